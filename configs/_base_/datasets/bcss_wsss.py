# BCSS-WSSS breast-cancer tissue patches (224 px): TUM, STR, LYM, NEC; mask index 4 = background.
#   training/*.png (labels in names, e.g. ...+0[1101].png), {val,test}/img, {val,test}/mask
# Names in val/test carry no label, so their image labels come from the masks.
dataset_type = 'BCSSWSSSDataset'
data_root = 'data/BCSS-WSSS'

train_pipeline = [
    dict(type='LoadPatchImage'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='RandomRotate90', prob=0.75),
    dict(type='PackPatchInputs'),
]
test_pipeline = [
    dict(type='LoadPatchImage'),
    dict(type='LoadPatchAnnotations'),
    dict(type='PackPatchInputs'),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='training'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='val/img', seg_map_path='val/mask'),
        label_from='mask',
        require_masks=True,
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='test/img', seg_map_path='test/mask'),
        label_from='mask',
        require_masks=True,
        pipeline=test_pipeline))

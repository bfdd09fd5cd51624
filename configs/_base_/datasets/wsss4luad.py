# WSSS4LUAD lung-adenocarcinoma patches (sizes vary, about 150-300 px):
# tumor, stroma, normal; mask index 3 = background. Challenge release layout:
#   1.training/*.png (labels in names, e.g. ...-[1, 1, 0].png),
#   2.validation/{img,mask}, 3.testing/{img,mask}
# Training patches are resized to 224 px so that they batch; evaluation keeps
# the native size.
# Names in val/test carry no label, so their image labels come from the masks.
dataset_type = 'WSSS4LUADDataset'
data_root = 'data/WSSS4LUAD'

train_pipeline = [
    dict(type='LoadPatchImage'),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
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
        data_prefix=dict(img_path='1.training'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='2.validation/img', seg_map_path='2.validation/mask'),
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
        data_prefix=dict(img_path='3.testing/img', seg_map_path='3.testing/mask'),
        label_from='mask',
        require_masks=True,
        pipeline=test_pipeline))

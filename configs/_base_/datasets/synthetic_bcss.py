# Synthetic H&E patches in the BCSS-WSSS layout, written by epsam's
# synthetic-data generator: training/{id}+0[abcd].png (labels TUM, STR, LYM,
# NEC in the name), {val,test}/img/{id}.png and {val,test}/mask/{id}.png
# (palette PNG: 0-3 tissue, 4 background). Image labels of val/test come from
# the masks. Small and CPU-friendly: for the demo and end-to-end tests.
dataset_type = 'BCSSWSSSDataset'
data_root = 'data/synthetic_bcss'

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
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='training'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
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
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='test/img', seg_map_path='test/mask'),
        label_from='mask',
        require_masks=True,
        pipeline=test_pipeline))

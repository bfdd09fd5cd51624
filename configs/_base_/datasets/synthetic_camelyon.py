# Synthetic H&E patches in the Camelyon layout (64-128 px), written by
# epsam's synthetic-data generator: {split}/image/{patch_id}_{label}.png and
# {split}/mask/{patch_id}_{label}.png (0/255) for positive patches.
# Small and CPU-friendly: for the demo and end-to-end tests.
dataset_type = 'CamelyonPatchDataset'
data_root = 'data/synthetic_camelyon'

train_pipeline = [
    dict(type='LoadPatchImage'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='RandomRotate90', prob=0.75),
    dict(type='PackPatchInputs'),
]
test_pipeline = [
    dict(type='LoadPatchImage'),
    dict(type='LoadPatchAnnotations', binary=True, missing_mask_value=0),
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
        data_prefix=dict(img_path='train/image', seg_map_path='train/mask'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='val/image', seg_map_path='val/mask'),
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
        data_prefix=dict(img_path='test/image', seg_map_path='test/mask'),
        require_masks=True,
        pipeline=test_pipeline))

# Camelyon17 lymph-node patches in EP-SAM's layout (512 px, level 0):
#   {split}/image/{patch_id}_{label}.png, {split}/mask/{patch_id}_{label}.png
# Masks exist for positive patches only; training never loads them (pixel
# labels of the training split would leak into a weakly supervised method).
dataset_type = 'CamelyonPatchDataset'
data_root = 'data/camelyon17_patches'

train_pipeline = [
    dict(type='LoadPatchImage'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='RandomRotate90', prob=0.75),
    # EP-SAM: rotation 0-360 and ColorJitter 0.2, with mmseg's transforms:
    # any angle (uncovered corners white, like glass); brightness +-32 of 255,
    # contrast and saturation x0.8-1.2, hue +-1 of 180 (mmseg's
    # PhotoMetricDistortion fails with hue_delta=0; 1 is the least it takes).
    dict(type='RandomRotate', prob=1.0, degree=180, pad_val=255, seg_pad_val=255),
    dict(type='PhotoMetricDistortion', brightness_delta=32, contrast_range=(0.8, 1.2),
         saturation_range=(0.8, 1.2), hue_delta=1),
    dict(type='RandomGrayscale', prob=0.1, keep_channels=True),
    dict(type='PackPatchInputs'),
]
# Negative patches have no mask file: their ground truth is all 'normal' (0).
test_pipeline = [
    dict(type='LoadPatchImage'),
    dict(type='LoadPatchAnnotations', binary=True, missing_mask_value=0),
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
        data_prefix=dict(img_path='train/image', seg_map_path='train/mask'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='val/image', seg_map_path='val/mask'),
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
        data_prefix=dict(img_path='test/image', seg_map_path='test/mask'),
        require_masks=True,
        pipeline=test_pipeline))

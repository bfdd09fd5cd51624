# SAM tuning data (EP-SAM steps 4 and 6): patches paired with binary target
# masks (initial CAM masks, then pseudo-labels). The pipeline tool fills in
# img_dir / mask_dir; for a standalone run pass them with --cfg-options:
#   train_dataloader.dataset.img_dir=... train_dataloader.dataset.mask_dir=...
# Prompts (50 points uniform inside the target, as EP-SAM trains) are drawn
# after the geometric augmentation, from the augmented mask.
dataset_type = 'SamMaskDataset'
sam_train_pipeline = [
    dict(type='LoadPatchImage'),
    dict(type='LoadPatchAnnotations', binary=False),
    dict(type='RandomFlip', prob=0.5, direction=['horizontal', 'vertical']),
    dict(type='RandomRotate90', prob=0.75),
    dict(type='GenerateMaskPrompts', generator=dict(type='UniformPointPrompt', num_points=50)),
    dict(type='PackSamInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, img_dir=None, mask_dir=None, pipeline=sam_train_pipeline))

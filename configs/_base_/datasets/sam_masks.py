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

# Evaluation (tools/test.py): SAM prompted from the classifier's CAMs, as at
# inference, scored per image against the ground-truth masks of a split. The
# pipeline fills the folders into the config it dumps next to each tuned SAM
# (stageN_sam_tuning_iterK/sam_tuning_config.py); otherwise pass them with
# --cfg-options test_dataloader.dataset.img_dir=... mask_dir=...
# test_dataloader.dataset.pipeline.2.cam_dir=<CAM tool output for the split>
sam_test_pipeline = [
    dict(type='LoadPatchImage'),
    dict(type='LoadPatchAnnotations', binary=True),
    dict(type='LoadCamPrompts', cam_dir=None, missing_mask='empty',
         generator=dict(type='ProbabilisticPointPrompt', num_points=50)),
    dict(type='PackSamInputs'),
]
test_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, img_dir=None, mask_dir=None, pipeline=sam_test_pipeline))
test_evaluator = dict(type='PerImageDiceMetric', foreground_index=1)
test_cfg = dict(type='TestLoop')

# Standalone SAM tuning as CAD trains (arXiv 2409.15889): patches with their
# ground-truth tumour masks, one box over the whole image as the prompt, for
# training and testing. Positive patches only (a mask file per image; negative
# patches have none). The synthetic Camelyon layout:
#   python tools/dataset_converters/generate_synthetic_data.py camelyon --out data/synthetic_camelyon
dataset_type = 'SamMaskDataset'
data_root = 'data/synthetic_camelyon'
full_image_box = dict(type='FullImageBoxPrompt')
train_pipeline = [
    dict(type='LoadPatchImage'),
    dict(type='LoadPatchAnnotations', binary=True),
    dict(type='RandomFlip', prob=0.5, direction=['horizontal', 'vertical']),
    dict(type='RandomRotate90', prob=0.75),
    dict(type='GenerateMaskPrompts', generator=full_image_box),
    dict(type='PackSamInputs'),
]
test_pipeline = [
    dict(type='LoadPatchImage'),
    dict(type='LoadPatchAnnotations', binary=True),
    dict(type='GenerateMaskPrompts', generator=full_image_box, seed=0),
    dict(type='PackSamInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, img_dir='train/image',
                 mask_dir='train/mask', pipeline=train_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, img_dir='test/image',
                 mask_dir='test/mask', pipeline=test_pipeline))
test_evaluator = dict(type='PerImageDiceMetric', foreground_index=1)
test_cfg = dict(type='TestLoop')

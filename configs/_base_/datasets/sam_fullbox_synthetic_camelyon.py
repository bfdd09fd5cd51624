# Standalone SAM tuning as CAD trains (arXiv 2409.15889): patches with their
# ground-truth tumour masks, one box over the whole image as the prompt, for
# training and testing. Positive patches only (a mask file per image; negative
# patches have none). Loaders, metric and test loop as in sam_masks.py; the
# synthetic Camelyon layout:
#   python tools/dataset_converters/generate_synthetic_data.py camelyon --out data/synthetic_camelyon
_base_ = ['./sam_masks.py']
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
# Class names and palette of the Camelyon patches ('normal', 'tumor'), for the
# overlays of tools/test.py --show-dir.
train_dataloader = dict(dataset=dict(data_root=data_root, source_dataset='CamelyonPatchDataset',
                                     img_dir='train/image',
                                     mask_dir='train/mask', pipeline=train_pipeline))
test_dataloader = dict(dataset=dict(data_root=data_root, source_dataset='CamelyonPatchDataset',
                                    img_dir='test/image',
                                    mask_dir='test/mask', pipeline=test_pipeline))

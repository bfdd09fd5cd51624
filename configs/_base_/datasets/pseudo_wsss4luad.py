# Data of the segmenter trained on pseudo-labels: WSSS4LUAD (patch sizes vary; tumor stroma
# normal + background 3).
# Train on pseudo-masks, evaluate on the pixel-annotated splits.
# Training pairs come from PseudoLabelDataset: images from the dataset's own
# training folder, pseudo-masks (class indices, 255 = ignore) from a pipeline
# work dir. The pipeline sets the mask folder; by hand, use an absolute path:
#   --cfg-options train_dataloader.dataset.data_prefix.seg_map_path=/abs/work_dir/.../masks
# (a relative path is read under data_root). Patches without a pseudo-mask
# (rejected by the selector) are skipped.
# Validation only reports; nothing selects checkpoints on the pixel labels
# (the last checkpoint is the model), so no pixel label leaks into training.
_base_ = ['./wsss4luad.py']

segmenter_train_pipeline = [
    dict(type='LoadPatchImage'),
    dict(type='LoadPatchAnnotations'),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='RandomRotate90', prob=0.75),
    dict(type='PackPatchInputs'),
]
# Iteration-based training: an endless shuffled stream of full batches (a
# batch of one would break the ASPP head's image-pool BatchNorm).
train_dataloader = dict(
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='PseudoLabelDataset',
        source_dataset='WSSS4LUADDataset',
        data_prefix=dict(seg_map_path='pseudo_labels/sam/masks'),
        pipeline=segmenter_train_pipeline))
# Both background protocols of the field, each with its own key prefix
# (exclude_background/mIoU, full_matrix/mIoU).
val_evaluator = [
    dict(type='WSSSIoUMetric', protocol='exclude_background'),
    dict(type='WSSSIoUMetric', protocol='full_matrix'),
]
test_evaluator = val_evaluator

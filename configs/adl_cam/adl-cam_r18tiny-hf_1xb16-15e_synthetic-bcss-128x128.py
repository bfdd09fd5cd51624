# Step 1 (classifier) on the synthetic BCSS-WSSS-like data (128 px; write it with
# tools/dataset_converters/generate_synthetic_data.py bcss --size 128): the
# tiny ResNet-18-ADL classifier with one logit per tissue class (TUM, STR,
# LYM, NEC; multi-label BCE), 15 CPU epochs, then class maps from the
# 4-rotation CAMs (background score, white-glass prior, 255 = unconfident).
_base_ = [
    '../_base_/models/adl_resnet18_cam_tiny.py', '../_base_/datasets/synthetic_bcss.py',
    '../_base_/schedules/schedule_10e_adam.py', '../_base_/default_runtime.py'
]
train_dataloader = dict(batch_size=16)
param_scheduler = [dict(type='CosineAnnealingLR', T_max=15, eta_min=1e-5, by_epoch=True)]
train_cfg = dict(max_epochs=15, val_interval=5)
# Validation needs scores only (patch F1); tools/generate_cams.py makes the CAMs.
model = dict(with_cam_in_predict=False, head=dict(num_classes=4))
val_evaluator = dict(type='PatchClassificationMetric')
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(interval=5, save_best='cls/f1', rule='greater'))
cam_cfg = dict(
    method=dict(type='TTACAM', cam_method=dict(type='CAM'), rotations=(0, 90, 180, 270),
                hflip=False),
    mask_maker=dict(type='MultiClassMaskMaker', background_alpha=1.0, confidence_threshold=0.5,
                    white_threshold=230),
    batch_size=16,
    only_positive=True,
    label_source='label')

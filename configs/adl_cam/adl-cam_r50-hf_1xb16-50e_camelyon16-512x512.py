# EP-SAM step 1 (classifier) on Camelyon16: the ResNet-50-ADL patch classifier (RGB +
# high-frequency input) with EP-SAM's schedule (Adam 1e-5, wd 1e-3, batch 16,
# 50 epochs, StepLR 10 / 0.9, early stop after 25 epochs without a better
# val F1), then CAMs and initial masks (tools/generate_cams.py): plain CAM
# of layer4 block 0 averaged over 4 rotations, 10th percentile of the
# non-zero CAM, opening 21x21 at 512 px. Model selection uses patch labels
# only (cls/f1), never pixel labels.
_base_ = [
    '../_base_/models/adl_resnet50_cam.py', '../_base_/datasets/camelyon16_patches.py',
    '../_base_/schedules/schedule_50e_adam_steplr.py', '../_base_/default_runtime.py'
]
# Validation needs scores only (patch F1); tools/generate_cams.py makes the CAMs.
model = dict(with_cam_in_predict=False)
val_evaluator = dict(type='PatchClassificationMetric')
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(save_best='cls/f1', rule='greater'))
custom_hooks = _base_.custom_hooks + [
    dict(type='EarlyStoppingHook', monitor='cls/f1', rule='greater', patience=25)
]
cam_cfg = dict(
    method=dict(type='TTACAM', cam_method=dict(type='CAM'), rotations=(0, 90, 180, 270),
                hflip=False),
    mask_maker=dict(type='PercentileMaskMaker', percentile=10, opening_kernel=21,
                    kernel_reference_size=512),
    batch_size=8,
    only_positive=True,
    label_source='label')

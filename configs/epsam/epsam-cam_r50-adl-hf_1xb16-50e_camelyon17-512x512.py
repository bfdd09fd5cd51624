# EP-SAM stage 1 on Camelyon17: as on Camelyon16 (see the camelyon16 config)
# except the initial-mask threshold, the 30th percentile of the non-zero CAM.
_base_ = [
    '../_base_/models/adl_resnet50_cam.py', '../_base_/datasets/camelyon17_patches.py',
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
    mask_maker=dict(type='PercentileMaskMaker', percentile=30, opening_kernel=21,
                    kernel_reference_size=512),
    batch_size=8,
    only_positive=True,
    label_source='label')

# Step 1 (classifier) of the multi-class protocol on WSSS4LUAD (about 150-300 px):
# tumor, stroma, normal; background = mask index 3.
# EP-SAM's ResNet-50-ADL classifier (RGB + high-frequency input, EP-SAM's
# schedule) with one logit per tissue class (multi-label BCE), model selection
# on the val split's patch F1 (image labels only), then per-class CAMs of
# layer4 block 0 over 4 rotations -> class maps (MultiClassMaskMaker:
# background score, white-glass prior, 255 = unconfident).
_base_ = [
    '../_base_/models/adl_resnet50_cam.py', '../_base_/datasets/wsss4luad.py',
    '../_base_/schedules/schedule_50e_adam_steplr.py', '../_base_/default_runtime.py'
]
model = dict(with_cam_in_predict=False, head=dict(num_classes=3))
val_evaluator = dict(type='PatchClassificationMetric')
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(save_best='cls/f1', rule='greater'))
custom_hooks = _base_.custom_hooks + [
    dict(type='EarlyStoppingHook', monitor='cls/f1', rule='greater', patience=25)
]
cam_cfg = dict(
    method=dict(type='TTACAM', cam_method=dict(type='CAM'), rotations=(0, 90, 180, 270),
                hflip=False),
    mask_maker=dict(type='MultiClassMaskMaker', background_alpha=1.0, confidence_threshold=0.5,
                    white_threshold=230),
    batch_size=8,
    only_positive=True,
    label_source='label')

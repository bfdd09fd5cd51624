# Grad-CAM baseline of the multi-class protocol on the synthetic BCSS-like
# data: the same data and tiny multi-label classifier as the CAM -> SAM config,
# Grad-CAM (4 rotations) instead of CAM, class maps from MultiClassMaskMaker,
# no SAM (use_sam=False: the SAM sections of the base are not used): the
# Grad-CAM class maps are evaluated on the test split under both protocols and
# the train split's maps (step2_cams/train/masks) are the pseudo-labels of
# the Grad-CAM -> DeepLabV3+ baselines (configs/deeplabv3plus/*gradcam-pseudo*).
#   python tools/run_pipeline.py THIS_CONFIG
#   ... --cfg-options classifier.checkpoint=work_dirs/OTHER_PIPELINE_RUN  (reuse step 1)
_base_ = ['./epsam-pipeline_r18tiny-cam_sam-tiny-decoder_3iter_synthetic-bcss-128x128.py']
method_name = 'Grad-CAM class maps (no SAM)'
cam_name = 'Grad-CAM'
cams = dict(
    _delete_=True,  # the base's cams is None (use the classifier config's CAM settings)
    method=dict(type='TTACAM', cam_method=dict(type='GradCAM'), rotations=(0, 90, 180, 270),
                hflip=False),
    mask_maker=dict(type='MultiClassMaskMaker', background_alpha=1.0, confidence_threshold=0.5,
                    white_threshold=230),
    batch_size=16)
use_sam = False

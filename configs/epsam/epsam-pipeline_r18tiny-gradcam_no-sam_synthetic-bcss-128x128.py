# Grad-CAM baseline of the multi-class protocol on the synthetic BCSS-like
# data: the same tiny multi-label classifier, Grad-CAM (4 rotations) instead
# of CAM, class maps from MultiClassMaskMaker, no SAM (use_sam=False): the
# Grad-CAM class maps are evaluated on the test split under both protocols and
# the train split's maps (stage2_cams/train/masks) are the pseudo-labels of
# the Grad-CAM -> DeepLabV3+ baselines (configs/stage3/*gradcam-pseudo*).
#   python tools/run_pipeline.py THIS_CONFIG
#   ... --cfg-options classifier.checkpoint=work_dirs/OTHER_PIPELINE_RUN  (reuse stage 1)
task = 'multiclass'
method_name = 'Grad-CAM class maps (no SAM)'
dataset_name = 'synthetic BCSS'
cam_name = 'Grad-CAM'
data_root = 'data/synthetic_bcss'
split_prefixes = dict(
    train=dict(img_path='training'),
    val=dict(img_path='val/img', seg_map_path='val/mask'),
    test=dict(img_path='test/img', seg_map_path='test/mask'))
train_split = 'train'
test_split = 'test'
cam_splits = ('train', 'test')
split_labels = dict(train='filename', test='prediction')
classifier = dict(
    config='configs/epsam/epsam-cam_r18tiny-adl-hf_1xb16-15e_synthetic-bcss-128x128.py')
cams = dict(
    method=dict(type='TTACAM', cam_method=dict(type='GradCAM'), rotations=(0, 90, 180, 270),
                hflip=False),
    mask_maker=dict(type='MultiClassMaskMaker', background_alpha=1.0, confidence_threshold=0.5,
                    white_threshold=230),
    batch_size=16)
use_sam = False
model_selection = dict(use_pixel_labels=False)

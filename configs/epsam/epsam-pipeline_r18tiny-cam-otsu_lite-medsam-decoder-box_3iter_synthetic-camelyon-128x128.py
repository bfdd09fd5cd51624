# LiteMedSAM pipeline with the CAM's initial masks at Otsu's threshold instead
# of EP-SAM's 10th percentile of the non-zero CAM (kept by name in
# epsam-pipeline_r18tiny-cam_lite-medsam-decoder-box_3iter_synthetic-camelyon-128x128.py).
# Why (label-free): the percentile recipe keeps about 90 % of every CAM's
# non-zero pixels by construction (81 % of each patch on this data), so its
# component boxes span nearly the whole patch and SAM tuned on its masks
# learns to predict the whole patch; Otsu's threshold adapts to each CAM
# (64 %). docs/science.md has the measurements.
#   python tools/run_pipeline.py THIS_CONFIG
_base_ = ['./epsam-pipeline_r18tiny-cam_lite-medsam-decoder-box_3iter_synthetic-camelyon-128x128.py']
method_name = 'EP-SAM with LiteMedSAM, Otsu CAM masks (component boxes -> decoder, 3 iterations)'
cams = dict(
    _delete_=True,
    method=dict(type='TTACAM', cam_method=dict(type='CAM'), rotations=(0, 90, 180, 270),
                hflip=False),
    mask_maker=dict(type='OtsuMaskMaker'),
    batch_size=16)

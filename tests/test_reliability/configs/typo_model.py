# The tiny CAM classifier config with a typo in the model's type name.
_base_ = ['../../../configs/adl_cam/'
          'adl-cam_r18tiny-hf_1xb16-15e_synthetic-camelyon-128x128.py']
model = dict(type='CAMClasifier')

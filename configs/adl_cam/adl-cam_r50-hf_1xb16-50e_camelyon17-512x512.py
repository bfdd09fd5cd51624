# EP-SAM step 1 (classifier) on Camelyon17: as on Camelyon16 (see the camelyon16 config)
# except the data and the initial-mask threshold, the 30th percentile of the
# non-zero CAM.
_base_ = ['./adl-cam_r50-hf_1xb16-50e_camelyon16-512x512.py']
data_root = 'data/camelyon17_patches'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
cam_cfg = dict(mask_maker=dict(percentile=30))

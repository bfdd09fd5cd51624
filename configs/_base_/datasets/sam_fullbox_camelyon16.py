# Standalone SAM tuning as CAD trains (ground-truth masks, full-image box
# prompt) on Camelyon16 patches extracted by tools/wsi/extract_patches.py:
#   data/camelyon16_patches/{train,test}/{image,mask} (docs/datasets.md).
# Pipelines, prompts and metric as in sam_fullbox_synthetic_camelyon.py.
_base_ = ['./sam_fullbox_synthetic_camelyon.py']
data_root = 'data/camelyon16_patches'
train_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))

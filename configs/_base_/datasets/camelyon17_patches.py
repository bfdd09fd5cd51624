# Camelyon17 lymph-node patches in EP-SAM's layout (512 px, level 0), the same
# layout, pipelines and loaders as Camelyon16 (camelyon16_patches.py):
#   {split}/image/{patch_id}_{label}.png, {split}/mask/{patch_id}_{label}.png
_base_ = ['./camelyon16_patches.py']
data_root = 'data/camelyon17_patches'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))

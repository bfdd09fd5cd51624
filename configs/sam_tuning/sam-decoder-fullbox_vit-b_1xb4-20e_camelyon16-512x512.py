# Standalone SAM ViT-B tuning as CAD trains (ground-truth masks, full-image box
# prompt, AdamW 2e-4, cosine, 20 epochs, batch 4) with decoder-only tuning.
_base_ = [
    '../_base_/models/sam_tuning_decoder_only.py', '../_base_/datasets/sam_fullbox_camelyon16.py',
    '../_base_/schedules/schedule_20e_adamw_cosine_cad.py', '../_base_/default_runtime.py'
]
# CAD's loss for every variant of its comparison (EP-SAM's decoder tuning uses Dice + IoU).
model = dict(loss=dict(type='BCEIoULoss'))

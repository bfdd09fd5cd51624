# Standalone SAM ViT-B tuning as CAD trains (ground-truth masks, full-image box
# prompt, AdamW 2e-4, cosine, 20 epochs, batch 4) with memory-lean CAD.
_base_ = [
    '../_base_/models/sam_tuning_cad_lean.py', '../_base_/datasets/sam_fullbox_camelyon16.py',
    '../_base_/schedules/schedule_20e_adamw_cosine_cad.py', '../_base_/default_runtime.py'
]

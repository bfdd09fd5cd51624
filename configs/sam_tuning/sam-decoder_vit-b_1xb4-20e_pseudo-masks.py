# EP-SAM step 4/6: SAM ViT-B, mask decoder tuned on (pseudo-)masks, 20 epochs.
_base_ = [
    '../_base_/models/sam_tuning_decoder_only.py', '../_base_/datasets/sam_masks.py',
    '../_base_/schedules/schedule_20e_adamw_cosine.py', '../_base_/default_runtime.py'
]

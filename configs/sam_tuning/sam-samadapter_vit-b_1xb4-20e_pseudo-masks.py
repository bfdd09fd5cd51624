# SAM ViT-B tuned on (pseudo-)masks with SAM-Adapter, EP-SAM's 20-epoch schedule.
# As the pipeline's tuning step: --cfg-options sam_tuning.config=THIS_CONFIG
_base_ = [
    '../_base_/models/sam_tuning_sam_adapter.py', '../_base_/datasets/sam_masks.py',
    '../_base_/schedules/schedule_20e_adamw_cosine.py', '../_base_/default_runtime.py'
]

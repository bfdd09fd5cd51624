# SAM tuning step of the pipeline with SAM-Adapter (in-encoder prompt generator per block, baseline) + mask decoder,
# tiny randomly initialised SAM stand-in, synthetic data. Same data and schedule
# as sam-decoder_tiny_1xb4-10e_pseudo-masks.py (equal budget).
_base_ = [
    '../_base_/models/sam_tuning_sam_adapter.py', '../_base_/datasets/sam_masks.py',
    '../_base_/schedules/schedule_10e_adamw_cosine.py', '../_base_/default_runtime.py'
]
# SAM size (leaf override): the tiny, randomly initialised stand-in (256 px, 2 narrow blocks).
model = dict(sam=dict(variant='tiny', checkpoint=None))

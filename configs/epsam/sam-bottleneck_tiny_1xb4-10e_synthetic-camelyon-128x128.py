# SAM tuning step of the pipeline with bottleneck adapters in every encoder block (Medical SAM Adapter style, baseline) + mask decoder,
# tiny randomly initialised SAM stand-in, synthetic data. Same data and schedule
# as sam-decoder_tiny_1xb4-10e_synthetic-camelyon-128x128.py (equal budget).
_base_ = [
    '../_base_/models/sam_tuning_bottleneck_tiny.py', '../_base_/datasets/sam_masks.py',
    '../_base_/schedules/schedule_10e_adamw_cosine.py', '../_base_/default_runtime.py'
]

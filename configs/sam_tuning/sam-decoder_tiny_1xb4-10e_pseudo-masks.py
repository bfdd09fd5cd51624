# EP-SAM step 4/6 (decoder-only tuning) on the synthetic data with the tiny,
# randomly initialised SAM stand-in (CPU demo and tests). The pipeline fills in
# the image and mask folders; see configs/_base_/datasets/sam_masks.py.
_base_ = [
    '../_base_/models/sam_tuning_decoder_only.py', '../_base_/datasets/sam_masks.py',
    '../_base_/schedules/schedule_10e_adamw_cosine.py', '../_base_/default_runtime.py'
]
# SAM size (leaf override): the tiny, randomly initialised stand-in (256 px, 2 narrow blocks).
model = dict(sam=dict(variant='tiny', checkpoint=None))

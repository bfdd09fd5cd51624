# Standalone SAM tuning as CAD trains (ground-truth masks, full-image box
# prompt) with bottleneck adapters (baseline); tiny randomly initialised SAM stand-in on the
# synthetic data. All six variants share data, schedule and seed (equal budget):
#   python tools/benchmark.py --run sam_tuning_synthetic_camelyon
_base_ = [
    '../_base_/models/sam_tuning_bottleneck.py',
    '../_base_/datasets/sam_fullbox_synthetic_camelyon.py',
    '../_base_/schedules/schedule_10e_adamw_cosine.py', '../_base_/default_runtime.py'
]
# SAM size (leaf override): the tiny, randomly initialised stand-in (256 px, 2 narrow blocks).
model = dict(sam=dict(variant='tiny', checkpoint=None))

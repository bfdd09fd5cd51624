# Standalone SAM tuning as CAD trains (ground-truth masks, full-image box
# prompt) with memory-lean CAD; tiny randomly initialised SAM stand-in on the
# synthetic data. All six variants share data, schedule and seed (equal budget):
#   python tools/benchmark.py --run sam_tuning_synthetic_camelyon
_base_ = [
    '../_base_/models/sam_tuning_cad_lean.py',
    '../_base_/datasets/sam_fullbox_synthetic_camelyon.py',
    '../_base_/schedules/schedule_10e_adamw_cosine.py', '../_base_/default_runtime.py'
]
# SAM size (leaf override): the tiny, randomly initialised stand-in (256 px, 2 narrow blocks);
# CAD's adapter input at 128 px (512 px with ViT-B).
model = dict(
    sam=dict(variant='tiny', checkpoint=None),
    adapter=dict(input_size=128),
    embedding_cache=dict(cache_dir='work_dirs/sam_embedding_cache/tiny'))

# The CPU-sized CAD on LiteMedSAM (one block at 128 px), memory-lean:
# activation checkpointing in the adapter block; the pipeline's shared
# embedding cache serves the frozen encoder.
_base_ = ['./sam-cad-small-box_lite-medsam_1xb4-5e_pseudo-masks.py']
model = dict(adapter=dict(with_cp=True))

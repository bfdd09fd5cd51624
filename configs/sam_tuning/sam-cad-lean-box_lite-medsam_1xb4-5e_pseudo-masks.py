# Memory-lean CAD on LiteMedSAM: CAD with activation checkpointing in the
# adapter blocks; the pipeline adds its shared embedding cache, so the frozen
# encoder runs once per image. Same data, prompts and schedule as the
# decoder-only LiteMedSAM config.
_base_ = ['./sam-cad-box_lite-medsam_1xb4-5e_pseudo-masks.py']
model = dict(adapter=dict(with_cp=True))

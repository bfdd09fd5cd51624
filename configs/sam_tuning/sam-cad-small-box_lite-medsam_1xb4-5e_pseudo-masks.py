# A CPU-sized CAD on LiteMedSAM for the study (docs/science.md): one adapter
# block at 128 px (CAD: three blocks from 512 px, about 400 GFLOP per image,
# five times LiteMedSAM's whole encoder). Same fusion after the neck, scale,
# loss, data, prompts and schedule as the full CAD config; REDUCED, and
# named so in every row.
_base_ = ['./sam-cad-box_lite-medsam_1xb4-5e_pseudo-masks.py']
model = dict(adapter=dict(input_size=128, depth=1))

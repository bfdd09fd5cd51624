# Segmenter on pseudo-labels (after step 7, optional): SegFormer (MiT-B1) trained on the
# SAM pseudo-masks of luad-histoseg; evaluated with both background protocols.
_base_ = [
    '../_base_/models/segformer_mit-b1.py',
    '../_base_/datasets/pseudo_luad_histoseg.py',
    '../_base_/iter_based_runtime.py',
    '../_base_/schedules/schedule_20k_adamw.py',
]

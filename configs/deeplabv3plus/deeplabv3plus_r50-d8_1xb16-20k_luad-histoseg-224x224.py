# Segmenter on pseudo-labels (after step 7, optional): DeepLabV3+ (ResNet-50, d8)
# trained on the SAM pseudo-masks of luad-histoseg; evaluated with both background
# protocols.
_base_ = [
    '../_base_/models/deeplabv3plus_r50-d8.py',
    '../_base_/datasets/pseudo_luad_histoseg.py',
    '../_base_/iter_based_runtime.py',
    '../_base_/schedules/schedule_20k_sgd.py',
]

# Segmenter on pseudo-labels (after step 7, optional), on the synthetic BCSS-like data:
# a tiny DeepLabV3+ that trains in a minute or two on CPU (demo, end-to-end tests).
_base_ = [
    '../_base_/models/deeplabv3plus_r18-tiny.py',
    '../_base_/datasets/pseudo_synthetic_bcss.py',
    '../_base_/iter_based_runtime.py',
    '../_base_/schedules/schedule_200it_cpu.py',
]

# Segmenter on pseudo-labels (after step 7, optional), on the synthetic BCSS-like data
# with a tiny SegFormer that trains in a minute or two on CPU; the DeepLabV3+
# counterpart is deeplabv3plus_r18-tiny_1xb8-200it_synthetic-bcss-128x128.py.
_base_ = [
    '../_base_/models/segformer_mit-tiny.py',
    '../_base_/datasets/pseudo_synthetic_bcss.py',
    '../_base_/iter_based_runtime.py',
    '../_base_/schedules/schedule_200it_cpu.py',
]

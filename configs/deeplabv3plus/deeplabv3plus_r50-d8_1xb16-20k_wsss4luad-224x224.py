# Segmenter on pseudo-labels (after step 7, optional): DeepLabV3+ (ResNet-50, d8)
# trained on the SAM pseudo-masks of WSSS4LUAD (3 tissue classes + background: 4
# outputs). Training patches are resized to 224 px; evaluation runs at each patch's own
# size.
_base_ = [
    '../_base_/models/deeplabv3plus_r50-d8.py',
    '../_base_/datasets/pseudo_wsss4luad.py',
    '../_base_/iter_based_runtime.py',
    '../_base_/schedules/schedule_20k_sgd.py',
]
model = dict(decode_head=dict(num_classes=4))

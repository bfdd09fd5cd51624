# Baseline without SAM: DeepLabV3+ trained directly on the CAM stage's
# Grad-CAM initial masks (CAM method 'GradCAM') from
# MultiClassMaskMaker, i.e. the CAM stage's masks/ folder
# (255 = unconfident). Compare with the same segmentor on EP-SAM's SAM
# pseudo-masks: deeplabv3plus_r18-tiny_1xb8-200it_synthetic-bcss-128x128.py.
_base_ = [
    '../_base_/models/deeplabv3plus_r18-tiny.py',
    '../_base_/datasets/pseudo_synthetic_bcss.py',
    '../_base_/iter_based_runtime.py',
    '../_base_/schedules/schedule_200it_cpu.py',
]
train_dataloader = dict(dataset=dict(data_prefix=dict(seg_map_path='pseudo_labels/gradcam/masks')))

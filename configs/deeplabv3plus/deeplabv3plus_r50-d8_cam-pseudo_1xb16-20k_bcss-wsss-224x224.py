# Baseline without SAM: DeepLabV3+ trained directly on the CAM stage's
# plain-CAM initial masks (CAM method 'CAM') from
# MultiClassMaskMaker, i.e. the CAM stage's masks/ folder
# (255 = unconfident). Compare with the same segmentor on EP-SAM's SAM
# pseudo-masks: deeplabv3plus_r50-d8_1xb16-20k_bcss-wsss-224x224.py.
_base_ = [
    '../_base_/models/deeplabv3plus_r50-d8.py',
    '../_base_/datasets/pseudo_bcss_wsss.py',
    '../_base_/iter_based_runtime.py',
    '../_base_/schedules/schedule_20k_sgd.py',
]
train_dataloader = dict(dataset=dict(data_prefix=dict(seg_map_path='pseudo_labels/cam/masks')))

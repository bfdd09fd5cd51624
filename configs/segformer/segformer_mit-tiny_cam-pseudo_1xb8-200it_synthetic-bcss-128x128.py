# Baseline without SAM: the tiny SegFormer trained on the CAM stage's
# plain-CAM initial masks (255 = unconfident). Compare with the same
# segmentor on EP-SAM's SAM pseudo-masks:
# segformer_mit-tiny_1xb8-200it_synthetic-bcss-128x128.py.
_base_ = ['./segformer_mit-tiny_1xb8-200it_synthetic-bcss-128x128.py']
train_dataloader = dict(dataset=dict(data_prefix=dict(seg_map_path='pseudo_labels/cam/masks')))

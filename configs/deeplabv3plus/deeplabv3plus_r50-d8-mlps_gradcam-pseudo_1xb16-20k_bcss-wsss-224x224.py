# Baseline in the style of WSSS-Tissue's multi-layer pseudo-supervision:
# Grad-CAM pseudo-labels supervise several outputs of one DeepLabV3+, the
# decoder (ResNet stage 4 + stage 1 low-level features) and one FCN auxiliary
# head each on stages 2 and 3, every output trained on the same pseudo-masks
# (mmseg auxiliary heads; only the decoder predicts at test time).
# (WSSS-Tissue derives its pseudo-masks from several classifier layers; here
# the supervision is multi-layer on the segmentor side.)
_base_ = [
    '../_base_/models/deeplabv3plus_r50-d8.py',
    '../_base_/datasets/pseudo_bcss_wsss.py',
    '../_base_/iter_based_runtime.py',
    '../_base_/schedules/schedule_20k_sgd.py',
]
aux_head = dict(
    type='FCNHead',
    num_convs=1,
    concat_input=False,
    dropout_ratio=0.1,
    num_classes=5,
    norm_cfg=dict(type='BN', requires_grad=True),
    align_corners=False,
    ignore_index=255,
    loss_decode=dict(
        type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4, avg_non_ignore=True))
model = dict(auxiliary_head=[
    dict(aux_head, in_channels=512, in_index=1, channels=128),
    dict(aux_head, in_channels=1024, in_index=2, channels=256),
])
train_dataloader = dict(dataset=dict(data_prefix=dict(seg_map_path='pseudo_labels/gradcam/masks')))

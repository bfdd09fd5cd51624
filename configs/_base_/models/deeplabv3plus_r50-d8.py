# DeepLabV3+ with a dilated ResNet-50 (output stride 8): mmseg's own
# EncoderDecoder + DepthwiseSeparableASPPHead, as in WSSS-Tissue's segmentation stage.
# Differences from mmseg's file: BN instead of SyncBN (one GPU or CPU), no
# auxiliary head (the multi-layer pseudo-supervision config adds its own),
# ignore_index 255 for unlabelled pseudo-label pixels, and num_classes set by
# the dataset config (5 for BCSS-WSSS / LUAD-HistoSeg, 4 for WSSS4LUAD).
# ImageNet weights: mmseg's 'open-mmlab://resnet50_v1c' (downloaded once by
# mmengine); offline, pass `--cfg-options model.pretrained=/path/to/r50_v1c.pth`
# or `model.pretrained=None` to train from scratch.
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    # training batches are padded to a multiple of 32 (224 and 128 px patches
    # need none); to pad to a crop size instead, set size and size_divisor=None
    size_divisor=32)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained='open-mmlab://resnet50_v1c',
    backbone=dict(
        type='ResNetV1c',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        contract_dilation=True),
    decode_head=dict(
        type='DepthwiseSeparableASPPHead',
        in_channels=2048,
        in_index=3,
        channels=512,
        dilations=(1, 12, 24, 36),
        c1_in_channels=256,
        c1_channels=48,
        dropout_ratio=0.1,
        num_classes=5,
        norm_cfg=norm_cfg,
        align_corners=False,
        ignore_index=255,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0, avg_non_ignore=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

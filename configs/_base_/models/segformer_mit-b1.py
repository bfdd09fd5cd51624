# SegFormer with a MiT-B1 encoder: mmseg's own EncoderDecoder +
# MixVisionTransformer + SegformerHead.
# Why B1 as the "small" MiT: it is the encoder TPRO's classifier uses (so its
# ImageNet weights are the ones users of the field already have), it is the
# smallest MiT with the 64-128-320-512 channel widths of B2-B5 (B0 has a
# quarter of them), and at 13.7M parameters it trains at 224 px in a few GB,
# well inside EP-SAM's 12 GB budget. For even less, use B0 with
# `--cfg-options model.backbone.embed_dims=32 model.backbone.num_heads=[1,2,5,8]
# model.decode_head.in_channels=[32,64,160,256]`.
# ImageNet weights: mmseg's released mit_b1 file; offline, pass
# `--cfg-options model.backbone.init_cfg.checkpoint=/path/to/mit_b1.pth`
# or `model.backbone.init_cfg=None` to train from scratch.
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
checkpoint = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b1_20220624-02e5a6a1.pth'  # noqa: E501
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        type='MixVisionTransformer',
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint),
        in_channels=3,
        embed_dims=64,
        num_stages=4,
        num_layers=[2, 2, 2, 2],
        num_heads=[1, 2, 5, 8],
        patch_sizes=[7, 3, 3, 3],
        sr_ratios=[8, 4, 2, 1],
        out_indices=(0, 1, 2, 3),
        mlp_ratio=4,
        qkv_bias=True,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.1),
    decode_head=dict(
        type='SegformerHead',
        in_channels=[64, 128, 320, 512],
        in_index=[0, 1, 2, 3],
        channels=256,
        dropout_ratio=0.1,
        num_classes=5,
        norm_cfg=norm_cfg,
        align_corners=False,
        ignore_index=255,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0, avg_non_ignore=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

# A tiny DeepLabV3+ for CPU runs on 128 px synthetic patches (tests, demo):
# mmseg's ResNetV1c at depth 18 with 16 base channels (stage widths 16-32-64-
# 128, output stride 8), a 32-channel depthwise-separable ASPP head with
# dilations scaled to a 16x16 feature map, no ImageNet weights. About 0.8M
# parameters; same model family as deeplabv3plus_r50-d8.py.
_base_ = ['./deeplabv3plus_r50-d8.py']
model = dict(
    pretrained=None,
    backbone=dict(depth=18, stem_channels=16, base_channels=16),
    decode_head=dict(
        in_channels=128,
        channels=32,
        dilations=(1, 2, 4, 6),
        c1_in_channels=16,
        c1_channels=8))

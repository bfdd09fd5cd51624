# A tiny SegFormer for CPU runs on 128 px synthetic patches (benchmark, tests):
# mmseg's MixVisionTransformer with one block per stage and a quarter of
# MiT-B0's widths (16-32-80-128 channels), a 64-channel SegformerHead, no
# ImageNet weights. About 0.5M parameters; same model family as
# segformer_mit-b1.py, which the real-dataset configs use.
_base_ = ['./segformer_mit-b1.py']
model = dict(
    backbone=dict(init_cfg=None, embed_dims=16, num_layers=[1, 1, 1, 1], drop_path_rate=0.0),
    decode_head=dict(in_channels=[16, 32, 80, 128], channels=64))

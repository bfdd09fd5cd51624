# CAD (parallel convolutional adapter at 512 px, fused after the neck) + mask
# decoder on LiteMedSAM, box prompts; same data, prompts and schedule as
# sam-decoder-box_lite-medsam_1xb4-5e_pseudo-masks.py.
# In-encoder adapters (SAM-Adapter, bottleneck, LoRA) are refused for
# LiteMedSAM's TinyViT encoder (see docs/benchmarks.md).
_base_ = ['./sam-decoder-box_lite-medsam_1xb4-5e_pseudo-masks.py']
model = dict(
    adapter=dict(_delete_=True, type='CADAdapter', input_size=512, depth=3,
                 low_freq_ratio=0.25, scale=0.1, fusion_point='neck'),
    loss=dict(type='BCEIoULoss'))

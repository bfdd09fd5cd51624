# CAD (arXiv 2409.15889): the parallel convolutional adapter (6-channel
# RGB + high-frequency input at 512 px, ~1.77M parameters) and the mask decoder
# train; the frozen encoder runs without autograd; fusion after the neck:
# embedding = encoder(x) + 0.1 * adapter(x).
# SAM ViT-B. Weights: the official sam_vit_b_01ec64.pth (download it to
# checkpoints/ or set model.sam.checkpoint with --cfg-options).
model = dict(
    type='SamTuningModel',
    sam=dict(variant='vit_b', checkpoint='checkpoints/sam_vit_b_01ec64.pth'),
    adapter=dict(
        type='CADAdapter',
        input_size=512,
        depth=3,
        low_freq_ratio=0.25,
        scale=0.1,
        fusion_point='neck'),
    loss=dict(type='BCEIoULoss'),
    multimask_output=False)
# SAM's mask decoder computes all four mask tokens but trains on one
# (multimask_output=False): DDP must expect parameters without gradients.
find_unused_parameters = True

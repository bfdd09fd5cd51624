# CAD (arXiv 2409.15889): the parallel convolutional adapter (6-channel
# RGB + high-frequency input at 512 px, ~1.77M parameters) and the mask decoder
# train; the frozen encoder runs without autograd; fusion after the neck:
# embedding = encoder(x) + 0.1 * adapter(x).
# The tiny-SAM leaves set adapter.input_size=128 (128 px synthetic patches).
# SAM size: ViT-B here (weights: the official sam_vit_b_01ec64.pth in
# checkpoints/, or set model.sam.checkpoint with --cfg-options); other sizes
# are leaf overrides, e.g. the tiny random stand-in for tests and CPU demos:
#   model = dict(sam=dict(variant='tiny', checkpoint=None))
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

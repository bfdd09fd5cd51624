# CAD (arXiv 2409.15889): the parallel convolutional adapter (6-channel
# RGB + high-frequency input at 512 px, ~1.77M parameters) and the mask decoder
# train; the frozen encoder runs without autograd; fusion after the neck:
# embedding = encoder(x) + 0.1 * adapter(x).
# Tiny random SAM (256 px, 2 narrow blocks) for tests and CPU demos.
# CAD's adapter input is 128 px here (512 px in the ViT-B config).
model = dict(
    type='SamTuningModel',
    sam=dict(variant='tiny', checkpoint=None),
    adapter=dict(
        type='CADAdapter',
        input_size=128,
        depth=3,
        low_freq_ratio=0.25,
        scale=0.1,
        fusion_point='neck'),
    loss=dict(type='BCEIoULoss'),
    multimask_output=False)
# SAM's mask decoder computes all four mask tokens but trains on one
# (multimask_output=False): DDP must expect parameters without gradients.
find_unused_parameters = True

# SAM-Adapter baseline (Chen et al. 2023): per-block prompt generator
# (patch-embedding projection + FFT high-frequency feature) added to every
# encoder block's input; backward crosses all frozen encoder blocks.
# SAM size: ViT-B here (weights: the official sam_vit_b_01ec64.pth in
# checkpoints/, or set model.sam.checkpoint with --cfg-options); other sizes
# are leaf overrides, e.g. the tiny random stand-in for tests and CPU demos:
#   model = dict(sam=dict(variant='tiny', checkpoint=None))
model = dict(
    type='SamTuningModel',
    sam=dict(variant='vit_b', checkpoint='checkpoints/sam_vit_b_01ec64.pth'),
    adapter=dict(type='SAMAdapter', reduction=32, low_freq_area=0.25),
    loss=dict(type='BCEIoULoss'),
    multimask_output=False)
# SAM's mask decoder computes all four mask tokens but trains on one
# (multimask_output=False): DDP must expect parameters without gradients.
find_unused_parameters = True

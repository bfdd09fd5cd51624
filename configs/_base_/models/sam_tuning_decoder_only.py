# Decoder-only tuning (EP-SAM step 4): image and prompt encoders frozen,
# the encoder runs without autograd; only the mask decoder trains.
# SAM size: ViT-B here (weights: the official sam_vit_b_01ec64.pth in
# checkpoints/, or set model.sam.checkpoint with --cfg-options); other sizes
# are leaf overrides, e.g. the tiny random stand-in for tests and CPU demos:
#   model = dict(sam=dict(variant='tiny', checkpoint=None))
model = dict(
    type='SamTuningModel',
    sam=dict(variant='vit_b', checkpoint='checkpoints/sam_vit_b_01ec64.pth'),
    adapter=None,
    loss=dict(type='DiceIoULoss'),
    multimask_output=False)
# SAM's mask decoder computes all four mask tokens but trains on one
# (multimask_output=False): DDP must expect parameters without gradients.
find_unused_parameters = True

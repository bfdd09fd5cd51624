# Decoder-only tuning (EP-SAM step 4): image and prompt encoders frozen,
# the encoder runs without autograd; only the mask decoder trains.
# SAM ViT-B. Weights: the official sam_vit_b_01ec64.pth (download it to
# checkpoints/ or set model.sam.checkpoint with --cfg-options).
model = dict(
    type='SamTuningModel',
    sam=dict(variant='vit_b', checkpoint='checkpoints/sam_vit_b_01ec64.pth'),
    adapter=None,
    loss=dict(type='DiceIoULoss'),
    multimask_output=False)
# SAM's mask decoder computes all four mask tokens but trains on one
# (multimask_output=False): DDP must expect parameters without gradients.
find_unused_parameters = True

# Decoder-only tuning (EP-SAM step 4): image and prompt encoders frozen,
# the encoder runs without autograd; only the mask decoder trains.
# Tiny random SAM (256 px, 2 narrow blocks) for tests and CPU demos.
model = dict(
    type='SamTuningModel',
    sam=dict(variant='tiny', checkpoint=None),
    adapter=None,
    loss=dict(type='DiceIoULoss'),
    multimask_output=False)
# SAM's mask decoder computes all four mask tokens but trains on one
# (multimask_output=False): DDP must expect parameters without gradients.
find_unused_parameters = True

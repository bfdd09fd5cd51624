# SAMed baseline: LoRA rank 4 on q and v of every encoder block's qkv;
# backward crosses all frozen encoder blocks.
# Tiny random SAM (256 px, 2 narrow blocks) for tests and CPU demos.
model = dict(
    type='SamTuningModel',
    sam=dict(variant='tiny', checkpoint=None),
    adapter=dict(type='LoRAAdapter', rank=4, targets=('q', 'v')),
    loss=dict(type='BCEIoULoss'),
    multimask_output=False)
# SAM's mask decoder computes all four mask tokens but trains on one
# (multimask_output=False): DDP must expect parameters without gradients.
find_unused_parameters = True

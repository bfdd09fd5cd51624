# SAMed baseline: LoRA rank 4 on q and v of every encoder block's qkv;
# backward crosses all frozen encoder blocks.
# SAM size: ViT-B here (weights: the official sam_vit_b_01ec64.pth in
# checkpoints/, or set model.sam.checkpoint with --cfg-options); other sizes
# are leaf overrides, e.g. the tiny random stand-in for tests and CPU demos:
#   model = dict(sam=dict(variant='tiny', checkpoint=None))
model = dict(
    type='SamTuningModel',
    sam=dict(variant='vit_b', checkpoint='checkpoints/sam_vit_b_01ec64.pth'),
    adapter=dict(type='LoRAAdapter', rank=4, targets=('q', 'v')),
    loss=dict(type='BCEIoULoss'),
    multimask_output=False)
# SAM's mask decoder computes all four mask tokens but trains on one
# (multimask_output=False): DDP must expect parameters without gradients.
find_unused_parameters = True

# Memory-lean CAD: CAD with activation checkpointing in the adapter blocks
# (with_cp) and the disk cache of frozen-encoder embeddings, so once the cache
# is warm the image encoder does not run at all during training.
# Cache keys hash the image pixels and the encoder weights: a randomly
# augmented image is a new key and misses the cache (the encoder runs for it).
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
        fusion_point='neck',
        with_cp=True),
    embedding_cache=dict(cache_dir='work_dirs/sam_embedding_cache/vit_b', storage_dtype='float16'),
    loss=dict(type='BCEIoULoss'),
    multimask_output=False)
# SAM's mask decoder computes all four mask tokens but trains on one
# (multimask_output=False): DDP must expect parameters without gradients.
find_unused_parameters = True

# Memory-lean CAD: CAD with activation checkpointing in the adapter blocks
# (with_cp) and the disk cache of frozen-encoder embeddings, so once the cache
# is warm the image encoder does not run at all during training.
# Cache keys hash the image pixels and the encoder weights: a randomly
# augmented image is a new key and misses the cache (the encoder runs for it).
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
        fusion_point='neck',
        with_cp=True),
    embedding_cache=dict(cache_dir='work_dirs/sam_embedding_cache/tiny', storage_dtype='float16'),
    loss=dict(type='BCEIoULoss'),
    multimask_output=False)
# SAM's mask decoder computes all four mask tokens but trains on one
# (multimask_output=False): DDP must expect parameters without gradients.
find_unused_parameters = True

# SAM-Adapter baseline (Chen et al. 2023): per-block prompt generator
# (patch-embedding projection + FFT high-frequency feature) added to every
# encoder block's input; backward crosses all frozen encoder blocks.
# Tiny random SAM (256 px, 2 narrow blocks) for tests and CPU demos.
model = dict(
    type='SamTuningModel',
    sam=dict(variant='tiny', checkpoint=None),
    adapter=dict(type='SAMAdapter', reduction=32, low_freq_area=0.25),
    loss=dict(type='BCEIoULoss'),
    multimask_output=False)
# SAM's mask decoder computes all four mask tokens but trains on one
# (multimask_output=False): DDP must expect parameters without gradients.
find_unused_parameters = True

# epsam's default runtime for the iteration-based segmenter loops: log by
# iteration and reseed per iteration (a resumed run repeats the uninterrupted
# one); checkpoints stay loadable with torch.load(weights_only=True).
_base_ = ['./default_runtime.py']
log_processor = dict(by_epoch=False)
custom_hooks = [
    dict(type='WeightsOnlyCheckpointHook'),
    dict(type='ReseedHook', per='iter'),
]

# The toy regression as an iteration-based run: 26 iterations, a checkpoint
# every 5 and reseeding per iteration, so a resumed run replays the same batches
# and random numbers (mmengine skips the batches already trained on).
_base_ = ['./toy_epoch.py']
train_dataloader = dict(sampler=dict(type='InfiniteSampler', shuffle=True))
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=26)
param_scheduler = [dict(type='StepLR', step_size=8, gamma=0.8, by_epoch=False)]
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=5, by_epoch=False))
log_processor = dict(by_epoch=False)
custom_hooks = [
    dict(type='WeightsOnlyCheckpointHook'),
    dict(type='ReseedHook', per='iter'),
    dict(type='NaNGuardHook'),
]

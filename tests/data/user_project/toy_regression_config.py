# A user config that inherits epsam's runtime the way epsam's configs do
# (relative ``_base_`` paths) and imports the user's own module.
_base_ = ['../../../configs/_base_/default_runtime.py']
custom_imports = dict(imports=['toy_modules'], allow_failed_imports=False)
model = dict(type='ToyNoisyRegressor')
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='ToyRegressionDataset', num_samples=32))
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01, momentum=0.9))
param_scheduler = [dict(type='StepLR', step_size=1, gamma=0.8, by_epoch=True)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=4)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=1, by_epoch=True),
    logger=dict(type='LoggerHook', interval=1))
randomness = dict(seed=7, deterministic=True)

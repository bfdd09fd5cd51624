# EP-SAM's classifier schedule: Adam lr 1e-5, weight decay 1e-3, 50 epochs,
# StepLR(step 10, gamma 0.9).
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-5, weight_decay=1e-3))
param_scheduler = [dict(type='StepLR', step_size=10, gamma=0.9, by_epoch=True)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=50, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=True),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=3,
                    save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # off unless a test tool asks (--show-dir of mmseg's or epsam's tools/test.py);
    # then every test image is drawn
    visualization=dict(type='SegVisualizationHook', draw=False, interval=1),
)

# EP-SAM's SAM-decoder schedule: AdamW lr 5e-6, weight decay 1e-2, 20 epochs,
# cosine annealing. Model selection uses no pixel labels: the last epoch is kept.
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='AdamW', lr=5e-6, weight_decay=1e-2))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=20, eta_min=0.0, by_epoch=True)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=20)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=True),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=1,
                    save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # off unless a test tool asks (--show-dir of mmseg's or epsam's tools/test.py);
    # then every test image is drawn
    visualization=dict(type='SegVisualizationHook', draw=False, interval=1),
)

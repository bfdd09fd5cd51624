# SAM tuning on the synthetic data with the tiny, randomly initialised SAM
# stand-in (CPU demo, tests, benchmarks): 10 epochs instead of EP-SAM's 20 so
# that the whole demo fits in 10 minutes on 2 cores. A random decoder needs a
# larger learning rate than EP-SAM's 5e-6 for a pretrained one.
_base_ = ['./schedule_20e_adamw_cosine.py']
optim_wrapper = dict(optimizer=dict(lr=1e-3, weight_decay=1e-2))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=10, eta_min=1e-5, by_epoch=True)]
train_cfg = dict(max_epochs=10)
default_hooks = dict(logger=dict(interval=10))

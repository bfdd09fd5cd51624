# A short CPU schedule for the synthetic data: Adam lr 1e-3, 10 epochs.
_base_ = ['./schedule_50e_adam_steplr.py']
optim_wrapper = dict(optimizer=dict(lr=1e-3, weight_decay=1e-4))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=10, eta_min=1e-5, by_epoch=True)]
train_cfg = dict(max_epochs=10, val_interval=5)
default_hooks = dict(logger=dict(interval=5))

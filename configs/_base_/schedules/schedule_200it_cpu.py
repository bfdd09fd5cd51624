# A 200-iteration AdamW schedule for the tiny CPU models on synthetic data
# (a forward + backward of the tiny DeepLabV3+ at 128 px, batch 8, is about
# 0.3 s on one free CPU core, so about a minute or two; longer on a busy
# machine, where OMP_NUM_THREADS=1 helps).
_base_ = ['./schedule_20k_sgd.py']
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-5, power=0.9, begin=0, end=200, by_epoch=False)
]
train_cfg = dict(max_iters=200, val_interval=200)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=200, max_keep_ckpts=1),
    visualization=dict(type='SegVisualizationHook', draw=False))

# 20k-iteration AdamW schedule of mmseg's SegFormer (lr 6e-5, head lr x10,
# no decay on norms and positional blocks, 1500-iteration warm-up, then
# linear decay), logged and checkpointed by iteration.
_base_ = ['./schedule_20k_sgd.py']
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys=dict(
        pos_block=dict(decay_mult=0.0),
        norm=dict(decay_mult=0.0),
        head=dict(lr_mult=10.0))))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=20000, by_epoch=False),
]

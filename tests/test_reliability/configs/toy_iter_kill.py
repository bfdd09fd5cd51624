# toy_iter.py plus a SIGKILL after iteration `custom_hooks.3.iteration`.
_base_ = ['./toy_iter.py']
custom_hooks = [
    dict(type='WeightsOnlyCheckpointHook'),
    dict(type='ReseedHook', per='iter'),
    dict(type='NaNGuardHook'),
    dict(type='SigkillAtIterHook', iteration=0),
]

# toy_epoch.py plus a SIGKILL after iteration `custom_hooks.3.iteration` (set it
# with --cfg-options).
_base_ = ['./toy_epoch.py']
custom_hooks = [
    dict(type='WeightsOnlyCheckpointHook'),
    dict(type='ReseedHook', per='epoch'),
    dict(type='NaNGuardHook'),
    dict(type='SigkillAtIterHook', iteration=0),
]

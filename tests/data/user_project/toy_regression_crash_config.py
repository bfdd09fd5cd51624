# The toy config plus a hook that kills the process after epoch 2's checkpoint.
_base_ = ['./toy_regression_config.py']
custom_hooks = [
    dict(type='WeightsOnlyCheckpointHook'),
    dict(type='ReseedHook', per='epoch'),
    dict(type='CrashAfterEpochHook', epoch=2),
]

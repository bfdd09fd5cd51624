# The user project's toy regression (32 samples, batch 4: 8 iterations per
# epoch, 4 epochs, a checkpoint per epoch, deterministic) with the fault modules.
_base_ = ['../../data/user_project/toy_regression_config.py']
custom_imports = dict(imports=['toy_modules', 'fault_modules'], allow_failed_imports=False)

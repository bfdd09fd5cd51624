# A toy regression without dropout (no random numbers in a step), batch 4 in
# total: one process with batch 4, or two ranks with batch 2 each
# (--cfg-options train_dataloader.batch_size=2).
_base_ = ['./toy_epoch.py']
model = dict(_delete_=True, type='ToyRegressor', dropout=0.0)
train_cfg = dict(max_epochs=2)

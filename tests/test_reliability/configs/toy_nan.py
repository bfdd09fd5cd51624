# toy_epoch.py with a model whose loss turns NaN (loss_mse) and inf (loss_aux)
# at iteration 13 (epoch 2, step 5); a checkpoint is saved after every epoch.
_base_ = ['./toy_epoch.py']
model = dict(_delete_=True, type='ToyRegressor', dropout=0.0, nan_at_iter=13)

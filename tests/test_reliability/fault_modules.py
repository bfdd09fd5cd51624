"""Modules that inject faults into training runs (imported through ``custom_imports``)."""
import os
import signal

import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import BaseModel

from epsam.registry import HOOKS, MODELS


@HOOKS.register_module()
class SigkillAtIterHook(Hook):
    """SIGKILL this process right after training iteration ``iteration`` (1-based, global).

    The kill comes after the optimizer step and before any checkpoint of that
    iteration, so everything since the last checkpoint is lost.
    """

    priority = 'HIGHEST'

    def __init__(self, iteration: int) -> None:
        self.iteration = int(iteration)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter + 1 == self.iteration:
            os.kill(os.getpid(), signal.SIGKILL)


@MODELS.register_module()
class ToyRegressor(BaseModel):
    """A two-layer MLP regressor; ``nan_at_iter`` makes its loss NaN/inf from that step on.

    Args:
        dropout: Dropout probability (0: no randomness in training steps).
        nan_at_iter: 1-based training step from which ``loss_mse`` is NaN and
            ``loss_aux`` is +inf (``None``: never).
    """

    def __init__(self, in_features: int = 8, hidden: int = 16, dropout: float = 0.0,
                 nan_at_iter: int = None) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, 1))
        self.nan_at_iter = nan_at_iter
        self.steps = 0

    def forward(self, inputs, data_samples=None, mode='tensor'):
        x = torch.stack(inputs) if isinstance(inputs, (list, tuple)) else inputs
        out = self.net(x.float()).squeeze(-1)
        if mode != 'loss':
            return out
        y = torch.stack(data_samples) if isinstance(data_samples, (list, tuple)) \
            else data_samples
        loss = ((out - y.float())**2).mean()
        self.steps += 1
        if self.nan_at_iter is not None and self.steps >= self.nan_at_iter:
            return dict(loss_mse=loss * float('nan'), loss_aux=loss * 0 + float('inf'))
        return dict(loss_mse=loss, loss_aux=loss * 0)

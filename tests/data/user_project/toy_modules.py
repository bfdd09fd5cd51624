"""A user's own modules, outside the epsam package, registered into epsam's scope.

Used by the tests of ``custom_imports``, resuming and distributed training.
"""
import os

import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from torch.utils.data import Dataset

from epsam.registry import DATASETS, HOOKS, MODELS


@MODELS.register_module()
class ToyNoisyRegressor(BaseModel):
    """A small MLP with dropout (so the random stream matters for resuming)."""

    def __init__(self, in_features: int = 8, hidden: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_features, hidden), nn.ReLU(), nn.Dropout(0.3), nn.Linear(hidden, 1))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        x = torch.stack(inputs) if isinstance(inputs, (list, tuple)) else inputs
        out = self.net(x.float()).squeeze(-1)
        if mode == 'loss':
            y = torch.stack(data_samples) if isinstance(data_samples, (list, tuple)) \
                else data_samples
            return dict(loss_mse=((out - y.float())**2).mean())
        return out


@DATASETS.register_module()
class ToyRegressionDataset(Dataset):
    """``num_samples`` fixed random regression pairs (seeded)."""

    def __init__(self, num_samples: int = 32, in_features: int = 8, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(num_samples, in_features, generator=g)
        self.y = self.x.sum(dim=1) + 0.1 * torch.randn(num_samples, generator=g)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, idx: int) -> dict:
        return dict(inputs=self.x[idx], data_samples=self.y[idx])


@HOOKS.register_module()
class CrashAfterEpochHook(Hook):
    """Kill the process (no clean-up) right after the checkpoint of ``epoch``."""

    priority = 'LOWEST'

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def after_train_epoch(self, runner) -> None:
        if runner.epoch + 1 == self.epoch:
            os._exit(17)

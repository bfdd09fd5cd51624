"""Stop training when a loss becomes NaN or infinite, before a bad checkpoint is saved."""
import math
import os.path as osp
from typing import Dict, List, Optional

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook

from epsam.registry import HOOKS
from epsam.utils.errors import UserError

__all__ = ['NaNGuardHook', 'NonFiniteLossError', 'NonFiniteWeightsError']


class NonFiniteLossError(UserError, RuntimeError):
    """A loss term of a training step is NaN or infinite; training was stopped."""


class NonFiniteWeightsError(UserError, RuntimeError):
    """A checkpoint about to be saved holds NaN or infinite weights; it was not written."""


def _as_float(value) -> Optional[float]:
    if isinstance(value, torch.Tensor):
        return float(value.detach().float().mean()) if value.numel() else None
    if isinstance(value, (int, float)):
        return float(value)
    return None


def non_finite_terms(log_vars: Dict[str, object]) -> Dict[str, float]:
    """The entries of a step's ``log_vars`` whose value is NaN or infinite.

    Args:
        log_vars: What ``model.train_step`` returned (``loss`` and the
            ``loss_*`` terms, tensors or numbers).

    Returns:
        Name -> value of every non-finite entry, in the given order.
    """
    bad = {}
    for name, value in (log_vars or {}).items():
        number = _as_float(value)
        if number is not None and not math.isfinite(number):
            bad[name] = number
    return bad


def _last_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint mmengine's ``last_checkpoint`` file names, if any."""
    pointer = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        return None
    with open(pointer, encoding='utf-8') as stream:
        path = stream.read().strip()
    return path or None


@HOOKS.register_module()
class NaNGuardHook(Hook):
    """Stop training at the first step whose loss is not finite.

    After every ``interval``-th training step the loss terms that the model
    returned are checked; when any is NaN or +-inf, training stops with a
    :class:`NonFiniteLossError` naming the epoch, the iteration and the bad
    terms, and the last good checkpoint. The hook runs before mmengine's
    ``CheckpointHook`` (priority ``ABOVE_NORMAL`` vs ``VERY_LOW``), so the
    step whose update used the bad loss is never saved. With
    ``check_weights`` it also refuses to write a checkpoint whose weights hold
    a NaN or inf (:class:`NonFiniteWeightsError`). Under ``torchrun`` every
    rank stops at the same step (the verdict is all-reduced).

    Args:
        interval: Check every this many iterations (1: every step; larger
            values save a host sync per step on GPUs but may let a few bad
            steps run, none of them saved unless a checkpoint falls between).
        check_weights: Check the floating-point tensors of every checkpoint
            before it is written.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, interval: int = 1, check_weights: bool = True) -> None:
        if interval < 1:
            raise ValueError(f'NaNGuardHook: interval must be >= 1, got {interval}')
        self.interval = int(interval)
        self.check_weights = check_weights

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not self.every_n_train_iters(runner, self.interval):
            return
        bad = non_finite_terms(outputs or {})
        if get_world_size() > 1:
            flag = torch.tensor([float(bool(bad))])
            all_reduce(flag, op='max')
            if flag.item() and not bad:
                bad = {'(another rank)': float('nan')}
        if not bad:
            return
        terms = ', '.join(f'{name}={value}' for name, value in bad.items())
        raise NonFiniteLossError(
            f'training stopped: loss terms not finite at {self._where(runner, batch_idx)}: '
            f'{terms}. {self._kept(runner)} Lower the learning rate, enable gradient '
            'clipping (optim_wrapper.clip_grad) or check the inputs of this step, then '
            'resume with --resume.')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if not self.check_weights:
            return
        bad = self._bad_tensors(checkpoint.get('state_dict') or {})
        if bad:
            raise NonFiniteWeightsError(
                f'checkpoint not saved: {len(bad)} weight tensor(s) hold NaN or inf at '
                f'{self._where(runner, None)} (e.g. {bad[:3]}). {self._kept(runner)}')

    @staticmethod
    def _bad_tensors(state_dict: dict) -> List[str]:
        return [name for name, value in state_dict.items()
                if isinstance(value, torch.Tensor) and value.is_floating_point()
                and not bool(torch.isfinite(value).all())]

    @staticmethod
    def _where(runner, batch_idx: Optional[int]) -> str:
        """'epoch E, iteration I (step S of the epoch)', 1-based."""
        where = f'epoch {runner.epoch + 1}, iteration {runner.iter + 1}'
        if batch_idx is not None:
            where += f' (step {batch_idx + 1} of the epoch)'
        return where

    @staticmethod
    def _kept(runner) -> str:
        last = _last_checkpoint(runner.work_dir)
        if last is None:
            return 'No checkpoint had been saved yet.'
        return f'The last good checkpoint is {last} (nothing was saved after it).'

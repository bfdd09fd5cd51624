"""Reseed the random number generators at every epoch (or iteration)."""
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.runner import set_random_seed

from epsam.registry import HOOKS


@HOOKS.register_module()
class ReseedHook(Hook):
    """Seed Python, NumPy and torch from ``(seed, epoch or iter, rank)``.

    mmengine does not store the RNG states in a checkpoint, so after
    ``--resume`` a run draws different random numbers (ADL's drop decisions,
    augmentations, dataloader seeds) from the uninterrupted run. Reseeding
    from the training position makes the random stream a function of where
    training is, not of what happened before, so a resumed run reproduces the
    uninterrupted one exactly (on CPU, with ``num_workers=0`` or persistent
    worker seeds).

    Args:
        per: ``'epoch'`` (reseed before each training epoch) or ``'iter'``
            (before each iteration; use with iteration-based loops).
        seed: Base seed. Defaults to the runner's seed.
    """

    priority = 'VERY_HIGH'

    def __init__(self, per: str = 'epoch', seed: int = None) -> None:
        if per not in ('epoch', 'iter'):
            raise ValueError(f"ReseedHook: per must be 'epoch' or 'iter', got {per!r}")
        self.per = per
        self.seed = seed

    def _reseed(self, runner, position: int) -> None:
        base = self.seed if self.seed is not None else (runner.seed or 0)
        # Spread (base, position, rank) over the seed space without collisions
        # between neighbouring runs.
        seed = (base * 1_000_003 + position * 1009 + get_rank()) % (2**31 - 1)
        set_random_seed(seed)

    def before_train_epoch(self, runner) -> None:
        if self.per == 'epoch':
            self._reseed(runner, runner.epoch)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if self.per == 'iter':
            self._reseed(runner, runner.iter)

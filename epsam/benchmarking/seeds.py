"""One benchmark row from the same run repeated with several seeds.

The row holds the mean of every metric over the seeds. Its notes give the
seeds, the sample standard deviation of the headline metrics and the range
of each seed's values, so a reader can tell a real difference between two
methods from seed noise. Train time is the mean and peak memory the largest
of the runs.
"""
import math
import statistics
from typing import List, Optional, Sequence

from .harness import BenchmarkRow

__all__ = ['SeedMismatchError', 'mean_over_seeds']

#: Metrics whose spread the notes report.
SPREAD_METRICS = ('mIoU', 'IoU', 'Dice')


class SeedMismatchError(ValueError):
    """The per-seed results do not describe the same rows (method, dataset, protocol)."""


def _mean(values: Sequence[Optional[float]]) -> Optional[float]:
    """Mean of the values; ``None`` when any run has none, NaN when any is NaN."""
    if any(v is None for v in values):
        return None
    return math.fsum(values) / len(values)


def _spread(name: str, values: Sequence[float]) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f'{name} std {std:.2f} (range {min(values):.2f}-{max(values):.2f})'


def _stds(runs: Sequence[BenchmarkRow], metrics: dict) -> dict:
    """Sample SD over the runs of each spread metric the mean row has."""
    return {n: statistics.stdev([r.metrics[n] for r in runs]) if len(runs) > 1 else 0.0
            for n in SPREAD_METRICS if metrics.get(n) is not None}


def mean_over_seeds(rows_per_seed: Sequence[List[BenchmarkRow]],
                    seeds: Sequence[int]) -> List[BenchmarkRow]:
    """Average the rows of runs that differ only in their seed.

    Args:
        rows_per_seed: The rows of each run, in the order of ``seeds``. Every
            run must give the same (method, dataset, protocol) rows in the
            same order.
        seeds: The seed of each run.

    Returns:
        One row per protocol: metrics averaged (a metric missing from any run
        is left out), ``train_time_s`` averaged, ``peak_memory_bytes`` the
        largest, ``trainable_params`` the first run's, notes naming the seeds
        and the spread, ``seeds`` and ``metrics_std`` (sample SD of
        :data:`SPREAD_METRICS`) set.

    Raises:
        SeedMismatchError: The runs disagree on their rows or their number of
            trainable parameters, or ``seeds`` does not match the runs.
    """
    if not rows_per_seed or len(rows_per_seed) != len(seeds):
        raise SeedMismatchError(f'{len(rows_per_seed)} runs for seeds {list(seeds)}')
    keys = [[(r.method, r.dataset, r.protocol) for r in rows] for rows in rows_per_seed]
    for seed, run_keys in zip(seeds[1:], keys[1:]):
        if run_keys != keys[0]:
            raise SeedMismatchError(f'seed {seed} gave rows {run_keys}, seed {seeds[0]} '
                                    f'gave {keys[0]}')
    averaged = []
    for index, first in enumerate(rows_per_seed[0]):
        runs = [rows[index] for rows in rows_per_seed]
        params = {r.trainable_params for r in runs}
        if len(params) > 1:
            raise SeedMismatchError(f'{first.method}: the seeds trained different numbers of '
                                    f'parameters {sorted(params)}')
        names = [n for n in first.metrics if all(n in r.metrics for r in runs)]
        metrics = {n: _mean([r.metrics[n] for r in runs]) for n in names}
        spread = [_spread(n, [r.metrics[n] for r in runs]) for n in SPREAD_METRICS
                  if metrics.get(n) is not None]
        memory = [r.peak_memory_bytes for r in runs]
        note = f'mean of {len(seeds)} seeds ({", ".join(map(str, seeds))})'
        if spread:
            note += ': ' + ', '.join(spread)
        averaged.append(BenchmarkRow(
            method=first.method, dataset=first.dataset, protocol=first.protocol,
            metrics=metrics, train_time_s=_mean([r.train_time_s for r in runs]),
            peak_memory_bytes=None if None in memory else max(memory),
            trainable_params=first.trainable_params,
            notes='; '.join(n for n in (note, first.notes) if n),
            stand_in_sam=any(r.stand_in_sam for r in runs), sam_weights=first.sam_weights,
            seeds=list(seeds), metrics_std=_stds(runs, metrics), origin=first.origin))
    return averaged

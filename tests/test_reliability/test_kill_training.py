"""Training SIGKILLed mid-epoch at random iterations, resumed with --resume.

mmengine resumes from the last *saved* checkpoint, so what a kill loses is
the work since that checkpoint, which the resumed run redoes:

- epoch-based loop, a checkpoint per epoch (epsam's configs): a kill in the
  middle of epoch ``e`` resumes from ``epoch_{e-1}.pth`` and replays epoch
  ``e`` whole (``ReseedHook(per='epoch')`` reseeds it identically);
- iteration-based loop, a checkpoint every 5 iterations: a kill resumes from
  the last ``iter_*.pth``; mmengine advances the infinite sampler past the
  batches already trained on and ``ReseedHook(per='iter')`` restores the
  random stream, so the replayed iterations are identical.

Either way the final weights are bit-identical to an uninterrupted run (CPU,
``randomness.deterministic=True``; the toy model has dropout 0.3, so the
random stream matters).
"""
from pathlib import Path

import pytest
import torch

from tests.conftest import REPO_ROOT

from .conftest import HERE, assert_no_partial_files, run_to_end

pytestmark = [pytest.mark.faults, pytest.mark.slow]

TRAIN = REPO_ROOT / 'tools' / 'train.py'
CONFIGS = HERE / 'configs'


def load_weights(path: Path) -> dict:
    return torch.load(path, map_location='cpu', weights_only=True)['state_dict']


def sigkilled(args) -> None:
    import signal
    import subprocess
    import sys

    from .conftest import tool_env
    proc = subprocess.run([sys.executable, *map(str, args)], cwd=REPO_ROOT, env=tool_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]


def kill_points(rng, total: int, period: int, kills: int) -> list:
    """``kills`` increasing iterations in ``1..total - 1`` that are not multiples of ``period``,
    each after the checkpoint that follows the previous one (so every kill is a new fault)."""
    points, low = [], 1
    for _ in range(kills):
        choices = [i for i in range(low, total) if i % period]
        points.append(rng.choice(choices[:period]))
        low = (points[-1] // period + 1) * period + 1
    return points


@pytest.mark.parametrize('mode,total,period,final', [
    ('epoch', 32, 8, 'epoch_4.pth'),
    ('iter', 26, 5, 'iter_26.pth'),
])
def test_training_killed_mid_epoch_resumes_to_identical_weights(
        tmp_path, fault_rng, mode, total, period, final):
    reference, killed = tmp_path / 'reference', tmp_path / 'killed'
    run_to_end([TRAIN, CONFIGS / f'toy_{mode}.py', '--work-dir', reference])

    points = kill_points(fault_rng, total, period, kills=2)
    for number, point in enumerate(points):
        sigkilled([TRAIN, CONFIGS / f'toy_{mode}_kill.py', '--work-dir', killed,
                   '--cfg-options', f'custom_hooks.3.iteration={point}',
                   *(['--resume'] if number else [])])
        assert_no_partial_files(killed, suffixes=('.pth',))
        assert not (killed / final).exists()
        # The kill came between checkpoints: the last one saved is before it.
        saved = [int(p.stem.split('_')[1]) * (period if mode == 'epoch' else 1)
                 for p in killed.glob('*.pth')]
        assert max(saved, default=0) < point < max(saved, default=0) + period, (saved, point)

    resumed = run_to_end([TRAIN, CONFIGS / f'toy_{mode}.py', '--work-dir', killed, '--resume'])
    log = resumed.stdout + resumed.stderr
    assert 'Auto resumed from the latest checkpoint' in log
    assert mode == 'epoch' or 'Advance dataloader' in log
    full, again = load_weights(reference / final), load_weights(killed / final)
    assert full.keys() == again.keys()
    for key in full:
        assert torch.equal(full[key], again[key]), key
    first = load_weights(reference / f'{mode}_{1 if mode == "epoch" else period}.pth')
    assert any(not torch.equal(first[k], full[k]) for k in full)  # training moved the weights

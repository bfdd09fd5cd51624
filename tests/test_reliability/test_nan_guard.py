"""NaN/inf in a loss: training stops naming the step and terms; no bad checkpoint is saved."""
import math
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch

from epsam.engine.hooks import NaNGuardHook, NonFiniteLossError, NonFiniteWeightsError
from epsam.engine.hooks.nan_guard_hook import non_finite_terms
from tests.conftest import REPO_ROOT

from .conftest import HERE, tool_env

pytestmark = pytest.mark.faults


def fake_runner(tmp_path, epoch=1, iteration=12, last=None):
    if last is not None:
        (tmp_path / 'last_checkpoint').write_text(str(last))
    return SimpleNamespace(epoch=epoch, iter=iteration, work_dir=str(tmp_path))


def test_non_finite_terms_finds_nan_and_inf():
    log_vars = dict(loss=torch.tensor(float('nan')), loss_cls=torch.tensor(0.5),
                    loss_aux=torch.tensor([1.0, float('-inf')]), acc=3.0)
    bad = non_finite_terms(log_vars)
    assert list(bad) == ['loss', 'loss_aux'] and math.isnan(bad['loss'])
    assert non_finite_terms(dict(loss=torch.tensor(1.0))) == {}


def test_hook_stops_at_the_first_bad_step_with_a_clear_message(tmp_path):
    hook = NaNGuardHook()
    runner = fake_runner(tmp_path, last=tmp_path / 'epoch_1.pth')
    hook.after_train_iter(runner, 3, outputs=dict(loss=torch.tensor(0.2)))  # finite: no-op
    with pytest.raises(NonFiniteLossError) as info:
        hook.after_train_iter(runner, 4, outputs=dict(loss=torch.tensor(float('inf')),
                                                      loss_seg=torch.tensor(float('inf'))))
    message = str(info.value)
    assert 'epoch 2, iteration 13 (step 5 of the epoch): loss=inf, loss_seg=inf' in message
    assert f'The last good checkpoint is {tmp_path / "epoch_1.pth"}' in message


def test_hook_refuses_to_save_non_finite_weights(tmp_path):
    hook = NaNGuardHook()
    state = dict(w=torch.ones(3), b=torch.tensor([float('nan')]), steps=torch.tensor([3]))
    with pytest.raises(NonFiniteWeightsError, match=r"1 weight tensor\(s\) hold NaN or inf .*"
                                                    r"\['b'\].*No checkpoint had been saved"):
        hook.before_save_checkpoint(fake_runner(tmp_path), dict(state_dict=state))
    hook.before_save_checkpoint(fake_runner(tmp_path), dict(state_dict=dict(w=torch.ones(3))))
    with pytest.raises(ValueError, match='interval must be >= 1'):
        NaNGuardHook(interval=0)


@pytest.mark.slow
def test_train_tool_stops_on_nan_and_keeps_the_last_good_checkpoint(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / 'tools' / 'train.py'),
         str(HERE / 'configs' / 'toy_nan.py'), '--work-dir', str(tmp_path)],
        cwd=REPO_ROOT, env=tool_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-3000:]
    last_line = proc.stderr.strip().splitlines()[-1]
    assert last_line.startswith('error: training stopped: loss terms not finite at epoch 2, '
                                'iteration 13 (step 5 of the epoch): loss=nan, loss_mse=nan, '
                                'loss_aux=inf.'), last_line
    assert f'The last good checkpoint is {tmp_path / "epoch_1.pth"}' in last_line
    assert 'Traceback' not in proc.stderr
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['epoch_1.pth']
    state = torch.load(tmp_path / 'epoch_1.pth', weights_only=True)['state_dict']
    assert all(torch.isfinite(v).all() for v in state.values())

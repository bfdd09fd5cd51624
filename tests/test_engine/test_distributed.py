"""A 2-process CPU (gloo) training run through tools/dist_train.sh."""
import os
import subprocess

import pytest
import torch

from tests.conftest import REPO_ROOT, USER_PROJECT


@pytest.mark.slow
def test_two_process_cpu_training(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(USER_PROJECT), OMP_NUM_THREADS='1',
               PORT=str(29500 + os.getpid() % 1000))
    proc = subprocess.run(
        ['bash', 'tools/dist_train.sh', str(USER_PROJECT / 'toy_regression_config.py'), '2',
         '--work-dir', str(tmp_path), '--cfg-options', 'train_cfg.max_epochs=2'],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert 'Distributed training: True' in log
    # 32 samples, batch 4, 2 ranks: 4 iterations per epoch on each rank.
    assert 'Epoch(train) [2][4/4]' in log
    state = torch.load(tmp_path / 'epoch_2.pth', weights_only=True)['state_dict']
    assert all(torch.isfinite(v).all() for v in state.values())

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


REAL_CONFIGS = {
    # SAM's decoder computes four mask tokens and trains one: unused parameters.
    'sam-tuning': ('configs/sam_tuning/'
                   'sam-decoder-fullbox_tiny_1xb4-10e_synthetic-camelyon-128x128.py'),
    'classifier': 'configs/adl_cam/adl-cam_r18tiny-hf_1xb16-15e_synthetic-camelyon-128x128.py',
}


@pytest.mark.slow
@pytest.mark.parametrize('name', sorted(REAL_CONFIGS))
def test_two_process_cpu_training_of_real_configs(tmp_path, name):
    from epsam.datasets.synthetic import generate_camelyon_like
    data = tmp_path / 'data'
    # 2 epochs of 2+ iterations per rank: DDP's unused-parameter error shows from
    # the second iteration on.
    generate_camelyon_like(str(data), num_train=40, num_val=4, num_test=4, patch_size=64,
                           seed=3)
    loaders = [f'{loader}.dataset.data_root={data}'
               for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    if name == 'sam-tuning':
        loaders = loaders[:1] + loaders[2:]  # it has no val loader
    env = dict(os.environ, OMP_NUM_THREADS='1', PORT=str(29600 + os.getpid() % 1000))
    proc = subprocess.run(
        ['bash', 'tools/dist_train.sh', REAL_CONFIGS[name], '2', '--work-dir', str(tmp_path / 'w'),
         '--cfg-options', 'train_cfg.max_epochs=2', 'train_cfg.val_interval=2', *loaders],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert 'Distributed training: True' in log and 'did not receive grad' not in log
    state = torch.load(tmp_path / 'w' / 'epoch_2.pth', weights_only=True)['state_dict']
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


def test_run_tool_destroys_the_process_group_before_exit(tmp_path):
    """A group left to interpreter shutdown can abort a gloo rank after its work is done."""
    import torch.distributed as dist

    from epsam.utils.cli import run_tool
    dist.init_process_group('gloo', init_method=f'file://{tmp_path / "store"}', rank=0,
                            world_size=1)
    assert dist.is_initialized()
    with pytest.raises(SystemExit) as exit_info:
        run_tool(lambda: 0, argv=[])
    assert exit_info.value.code == 0 and not dist.is_initialized()

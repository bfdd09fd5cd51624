"""Two CPU ranks under torchrun (gloo) against one process.

- Pseudo-labelling: the ranks share fixed batches, so the output folder is
  byte-identical to a one-process run with the same batch size.
- Training: 2 ranks x batch 2 against 1 process x batch 4, same seed, a model
  without dropout. ``DefaultSampler`` gives rank ``r`` the samples
  ``perm[r::2]``, so each step of the two ranks sees exactly the four samples
  of the single process's step, and DDP averages the two ranks' gradients
  (each the mean over 2 samples) into the mean over 4. The weights after two
  epochs agree to float32 rounding (``rtol=1e-5``), not bit for bit: the
  gradient is summed in a different order.
"""
import os

import pytest
import torch

from tests.conftest import REPO_ROOT

from .conftest import DRIVERS, HERE, assert_same_tree, run_to_end

pytestmark = [pytest.mark.faults, pytest.mark.slow]


def torchrun(*args):
    port = str(29700 + os.getpid() % 500)
    return run_to_end(['-m', 'torch.distributed.run', '--nproc_per_node=2',
                       f'--master_port={port}', *args])


def test_pseudo_labels_two_ranks_equal_one_process(cam_tree, tmp_path):
    from .drivers import pseudo_labels
    args = [cam_tree / 'sam.pth', cam_tree / 'img', cam_tree / 'cams']
    single = pseudo_labels.run(*args, tmp_path / 'single', batch_size=2)
    assert single['items'] == single['kept'] == single['images_encoded'] == 8
    torchrun(DRIVERS / 'pseudo_labels.py', *args, tmp_path / 'double', '--batch-size', '2')
    assert assert_same_tree(tmp_path / 'single', tmp_path / 'double') > 8


def test_training_two_ranks_match_one_process_at_the_same_effective_batch(tmp_path):
    config = HERE / 'configs' / 'toy_linear.py'
    train = REPO_ROOT / 'tools' / 'train.py'
    run_to_end([train, config, '--work-dir', tmp_path / 'single'])
    proc = torchrun(train, config, '--launcher', 'pytorch', '--work-dir', tmp_path / 'double',
                    '--cfg-options', 'train_dataloader.batch_size=2')
    assert 'Distributed training: True' in proc.stdout + proc.stderr
    single = torch.load(tmp_path / 'single' / 'epoch_2.pth', weights_only=True)['state_dict']
    double = torch.load(tmp_path / 'double' / 'epoch_2.pth', weights_only=True)['state_dict']
    start = torch.load(tmp_path / 'single' / 'epoch_1.pth', weights_only=True)['state_dict']
    assert single.keys() == double.keys()
    for key in single:
        torch.testing.assert_close(double[key], single[key], rtol=1e-5, atol=1e-6)
    assert any(not torch.equal(start[k], single[k]) for k in single)

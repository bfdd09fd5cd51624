"""Training time after ``--resume`` is the sum over the processes, not the last one's."""
import json
import re

import pytest
import torch

from tests.conftest import REPO_ROOT

from .conftest import HERE, run_to_end

pytestmark = [pytest.mark.faults, pytest.mark.slow]

TRAIN = REPO_ROOT / 'tools' / 'train.py'
LOGGED = re.compile(r'training time: ([\d.]+) s over (\d+) process\(es\) '
                    r'\(([\d.]+) s in this one\)')


def _meta(path):
    return torch.load(path, map_location='cpu', weights_only=True)['meta']


def test_resumed_training_sums_the_time_of_every_process(tmp_path):
    config = HERE / 'configs' / 'toy_epoch.py'
    first = run_to_end([TRAIN, config, '--work-dir', tmp_path,
                        '--cfg-options', 'train_cfg.max_epochs=2'])
    total, processes, this_one = LOGGED.search(first.stdout + first.stderr).groups()
    assert int(processes) == 1 and float(total) == float(this_one)
    exact = json.loads((tmp_path / 'train_time.json').read_text())['train_time_s']
    assert float(total) == pytest.approx(exact, abs=0.05)  # the log rounds to 0.1 s
    carried = _meta(tmp_path / 'epoch_2.pth')['train_time_s']
    assert 0 < carried <= exact
    assert _meta(tmp_path / 'epoch_2.pth')['train_processes'] == 1

    resumed = run_to_end([TRAIN, config, '--work-dir', tmp_path, '--resume'])
    total, processes, this_one = LOGGED.search(resumed.stdout + resumed.stderr).groups()
    assert int(processes) == 2
    assert float(total) == pytest.approx(carried + float(this_one), abs=0.15)
    record = json.loads((tmp_path / 'train_time.json').read_text())
    assert record['train_processes'] == 2
    assert record['train_time_s'] == pytest.approx(float(total), abs=0.1)
    last = _meta(tmp_path / 'epoch_4.pth')
    assert last['train_processes'] == 2 and last['train_time_s'] > carried

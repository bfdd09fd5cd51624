"""The prepared GPU-rows script runs every row's command (SMOKE scale, on the CPU)."""
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

SCRIPT = REPO_ROOT / 'tools' / 'benchmarks' / 'run_gpu_rows.sh'
ROWS = ('sam_encoder_efficiency', 'pseudo_label_throughput_tiny',
        'tuning_epoch_cache_tiny_decoder', 'tuning_epoch_cache_tiny_cad_lean', 'cam_throughput')


@pytest.mark.slow
def test_smoke_run_writes_every_row(tmp_path):
    env = dict(os.environ, SMOKE='1', PYTHON=sys.executable, OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT),
                                                        os.environ.get('PYTHONPATH')])))
    proc = subprocess.run(['bash', str(SCRIPT), str(tmp_path), 'cpu'], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for name in ROWS:
        report = json.loads((tmp_path / f'{name}.json').read_text())
        assert report['machine']['device_name'] == 'CPU', name
    encoder = json.loads((tmp_path / 'sam_encoder_efficiency.json').read_text())
    assert (encoder['batch_size'], encoder['precision']) == (2, 'fp32')
    log = (tmp_path / 'log.txt').read_text()
    assert log.count('$ python ') == len(ROWS) and f'written: {tmp_path}' in log


def test_missing_out_dir_is_a_usage_error():
    proc = subprocess.run(['bash', str(SCRIPT)], capture_output=True, text=True)
    assert proc.returncode != 0 and 'usage: run_gpu_rows.sh OUT_DIR' in proc.stderr

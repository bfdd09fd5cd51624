"""tools/benchmarks/pipeline_device_check.py: its cut-down pipeline configs."""
import importlib.util
import os

import pytest

from tests.conftest import REPO_ROOT


@pytest.fixture(scope='module')
def check_tool():
    path = REPO_ROOT / 'tools' / 'benchmarks' / 'pipeline_device_check.py'
    spec = importlib.util.spec_from_file_location('pipeline_device_check', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_run_is_an_adapter_pipeline_cut_to_one_short_iteration(check_tool, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    for variant, dataset in check_tool.RUNS:
        cfg = check_tool.tiny_config(variant, dataset, '/data')
        assert cfg.iterations == 1 and cfg.data_root == '/data'
        assert cfg.sam_tuning.cfg_options['train_cfg.max_epochs'] == 2
        assert cfg.classifier.cfg_options['train_cfg.max_epochs'] == 2
        assert os.path.isfile(cfg.sam_tuning.config)
        assert f'sam-{variant}_' in cfg.sam_tuning.config
        assert (cfg.get('task') == 'multiclass') == (dataset == 'bcss')

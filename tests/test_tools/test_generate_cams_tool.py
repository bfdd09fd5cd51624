"""tools/generate_cams.py: options, errors, and an end-to-end run on a tiny config."""
import importlib.util
import json
import os
from argparse import Namespace

import numpy as np
import pytest
import torch
from mmengine.config import Config

import epsam  # noqa: F401
from epsam.cams.recipe import split_dataset_config
from epsam.datasets.synthetic import generate_camelyon_like
from epsam.fileio.cam_store import load_cam, load_label_png
from epsam.registry import MODELS
from tests.conftest import REPO_ROOT

TOOL = REPO_ROOT / 'tools' / 'generate_cams.py'
CONFIG = REPO_ROOT / 'configs' / 'adl_cam' / \
    'adl-cam_r18tiny-hf_1xb16-15e_synthetic-camelyon-128x128.py'
SIZE = 64


def load_tool():
    spec = importlib.util.spec_from_file_location('generate_cams_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def options(**kwargs):
    defaults = dict(cam_method=None, no_tta=False, batch_size=None, label_source=None,
                    all_images=False)
    return Namespace(**{**defaults, **kwargs})


def test_cam_settings_follow_the_config_and_the_overrides():
    tool = load_tool()
    cfg = Config.fromfile(str(CONFIG))
    settings = tool.cam_settings(cfg, options())
    assert settings['method'] == dict(type='TTACAM', cam_method=dict(type='CAM'),
                                      rotations=(0, 90, 180, 270), hflip=False)
    assert settings['mask_maker']['percentile'] == 10 and settings['batch_size'] == 16
    gradcam = tool.cam_settings(cfg, options(cam_method='gradcam++', batch_size=3))
    assert gradcam['method']['type'] == 'TTACAM'
    assert gradcam['method']['cam_method'] == dict(type='GradCAMPlusPlus')
    assert gradcam['batch_size'] == 3
    plain = tool.cam_settings(cfg, options(cam_method='gradcam', no_tta=True, all_images=True))
    assert plain['method'] == dict(type='GradCAM') and plain['only_positive'] is False


def test_train_split_reads_no_pixel_labels():
    dataset = split_dataset_config(Config.fromfile(str(CONFIG)), 'train')
    types = [step['type'] for step in dataset['pipeline']]
    assert types == ['LoadPatchImage', 'PackPatchInputs']
    assert dataset['data_prefix']['img_path'] == 'train/image'


@pytest.fixture(scope='module')
def tiny_project(tmp_path_factory):
    """Synthetic data and a checkpoint of the tiny config's (untrained) classifier."""
    root = tmp_path_factory.mktemp('project')
    data = root / 'data'
    generate_camelyon_like(str(data), num_train=6, num_val=2, num_test=2, patch_size=SIZE,
                           seed=0)
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(str(CONFIG)).model)
    checkpoint = root / 'classifier.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(epoch=1)), checkpoint)
    return root, data, checkpoint


def data_options(data):
    return ['--cfg-options', f'train_dataloader.dataset.data_root={data}',
            f'test_dataloader.dataset.data_root={data}']


@pytest.mark.slow
def test_tool_end_to_end(tiny_project, tool_runner):
    root, data, checkpoint = tiny_project
    out = root / 'cams_train'
    proc = tool_runner([TOOL, CONFIG, checkpoint, '--out', out, '--split', 'train',
                        '--vis', '2', '--batch-size', '2', *data_options(data)])
    assert 'summary:' in proc.stdout
    summary = json.loads((out / 'summary.json').read_text())
    positives = sorted(n[:-4] for n in os.listdir(data / 'train' / 'image') if n.endswith('_1.png'))
    assert summary['images'] == 6 and summary['positives'] == summary['masked'] == len(positives)
    assert summary['checkpoint'] == str(checkpoint)
    assert summary['settings']['mask_maker'].startswith('PercentileMaskMaker')
    assert sorted(os.listdir(out / 'masks')) == [f'{s}.png' for s in positives]
    for stem in positives:
        assert load_cam(str(out / 'cams' / f'{stem}.npz'), image_size=(SIZE, SIZE))
        assert set(np.unique(load_label_png(str(out / 'masks' / f'{stem}.png')))) <= {0, 1}
    assert len(os.listdir(out / 'vis')) == 2
    # a rerun skips everything
    again = tool_runner([TOOL, CONFIG, checkpoint, '--out', out, '--split', 'train',
                         '--batch-size', '2', *data_options(data)])
    assert f'{len(positives)} already done' in again.stdout


@pytest.mark.slow
def test_tool_reports_missing_inputs(tiny_project, tool_runner, tmp_path):
    root, data, checkpoint = tiny_project
    proc = tool_runner([TOOL, CONFIG, tmp_path / 'nope.pth', '--out', tmp_path / 'o'],
                       check=False)
    assert proc.returncode != 0 and 'checkpoint file not found' in proc.stderr
    proc = tool_runner([TOOL, tmp_path / 'nope.py', checkpoint, '--out', tmp_path / 'o'],
                       check=False)
    assert proc.returncode != 0 and 'config file not found' in proc.stderr
    proc = tool_runner([TOOL, CONFIG, checkpoint, '--out', tmp_path / 'o', '--split', 'val',
                        '--cfg-options', f'val_dataloader.dataset.data_root={tmp_path}'],
                       check=False)
    assert proc.returncode != 0 and 'val split cannot be read' in proc.stderr
    assert 'folder does not exist' in proc.stderr


class NotAWeight:
    pass


@pytest.mark.slow
def test_tool_refuses_a_checkpoint_that_needs_unpickling(tiny_project, tool_runner, tmp_path):
    root, data, checkpoint = tiny_project
    state = torch.load(checkpoint, weights_only=True)
    state['meta'] = NotAWeight()
    unsafe = tmp_path / 'unsafe.pth'
    torch.save(state, unsafe)
    proc = tool_runner([TOOL, CONFIG, unsafe, '--out', tmp_path / 'o', *data_options(data)],
                       check=False)
    assert proc.returncode != 0 and 'weights_only=True' in proc.stderr
    assert not (tmp_path / 'o' / 'cams').exists()


@pytest.mark.slow
def test_torchrun_two_ranks_equal_one_process(tiny_project, tool_runner):
    root, data, checkpoint = tiny_project
    single, double = root / 'single', root / 'double'
    common = [CONFIG, checkpoint, '--split', 'train', '--batch-size', '1', *data_options(data)]
    tool_runner([TOOL, *common[:2], '--out', single, *common[2:]])
    port = str(29600 + os.getpid() % 1000)
    tool_runner(['-m', 'torch.distributed.run', '--nproc_per_node=2', f'--master_port={port}',
                 TOOL, *common[:2], '--out', double, '--launcher', 'pytorch', *common[2:]])
    for folder in ('cams', 'masks', 'records'):
        names = sorted(os.listdir(single / folder))
        assert names == sorted(os.listdir(double / folder)) and names
        for name in names:
            assert (single / folder / name).read_bytes() == (double / folder / name).read_bytes()
    assert json.loads((double / 'summary.json').read_text()) == \
        json.loads((single / 'summary.json').read_text())

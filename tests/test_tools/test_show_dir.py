"""mmseg's own tools and epsam's tools/test.py --show-dir on an epsam SAM config."""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from epsam.datasets.synthetic.layouts import generate_camelyon_like
from epsam.registry import MODELS
from tests.conftest import REPO_ROOT, run_tool

CONFIG = (REPO_ROOT / 'configs' / 'sam_tuning' /
          'sam-decoder-fullbox_tiny_1xb4-10e_synthetic-camelyon-128x128.py')
MMSEG_TOOLS = Path(__import__('mmseg').__file__).parent / '.mim' / 'tools'


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory):
    """Synthetic Camelyon patches, a random tiny SAM checkpoint, a config pointing at them."""
    root = tmp_path_factory.mktemp('show')
    generate_camelyon_like(str(root / 'data'), num_train=4, num_val=2, num_test=4)
    torch.manual_seed(0)
    model = MODELS.build(dict(type='SamTuningModel', sam=dict(variant='tiny')))
    checkpoint = root / 'tiny.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(epoch=1)), checkpoint)
    config = root / 'tiny_config.py'
    data = root / 'data'
    config.write_text(f"_base_ = ['{CONFIG}']\n"
                      f"train_dataloader = dict(dataset=dict(data_root='{data}'))\n"
                      f"test_dataloader = dict(dataset=dict(data_root='{data}'))\n")
    return dict(root=root, config=config, checkpoint=checkpoint)


def _overlays(show_dir: Path):
    return sorted((show_dir / 'vis_data' / 'vis_image').glob('*.png'))


def _check_overlay(path: Path) -> None:
    """Ground truth beside prediction, drawn in the Camelyon palette (tumour red)."""
    image = np.asarray(Image.open(path).convert('RGB')).astype(int)
    assert image.shape == (128, 256, 3)
    truth = image[:, :128]
    reddish = (truth[..., 0] > truth[..., 1] + 40) & (truth[..., 0] > truth[..., 2] + 40)
    assert reddish.mean() > 0.1  # the tumour of a positive patch, drawn red ('tumor')


@pytest.mark.slow
def test_epsam_test_tool_writes_overlays(tiny_run):
    show_dir = tiny_run['root'] / 'epsam_show'
    proc = run_tool(['tools/test.py', tiny_run['config'], tiny_run['checkpoint'],
                     '--work-dir', tiny_run['root'] / 'work', '--show-dir', show_dir])
    assert 'Dice' in proc.stdout + proc.stderr
    overlays = _overlays(show_dir)
    assert len(overlays) == 2  # the two positive test patches
    _check_overlay(overlays[0])


@pytest.mark.slow
def test_mmseg_test_tool_show_dir_and_benchmark(tiny_run):
    """mmseg's tools/test.py --show-dir and analysis_tools/benchmark.py on the config."""
    show_dir = tiny_run['root'] / 'mmseg_show'
    run_tool([MMSEG_TOOLS / 'test.py', tiny_run['config'], tiny_run['checkpoint'],
              '--work-dir', tiny_run['root'] / 'mmseg_work', '--show-dir', show_dir])
    overlays = _overlays(show_dir)
    assert len(overlays) == 2
    _check_overlay(overlays[0])
    proc = run_tool([MMSEG_TOOLS / 'analysis_tools' / 'benchmark.py', tiny_run['config'],
                     tiny_run['checkpoint'], '--work-dir', tiny_run['root'] / 'bench',
                     '--repeat-times', '1'])
    assert 'Average fps of 1 evaluations' in proc.stdout


def test_sam_tuning_model_takes_the_keys_mmseg_tools_set_to_none():
    model = MODELS.build(dict(type='SamTuningModel', sam=dict(variant='tiny'), pretrained=None,
                              train_cfg=None))
    assert model.sam.weights.is_stand_in
    with pytest.raises(ValueError, match="pretrained='sam.pth' is not supported .*"
                       'model.sam.checkpoint'):
        MODELS.build(dict(type='SamTuningModel', sam=dict(variant='tiny'),
                          pretrained='sam.pth'))

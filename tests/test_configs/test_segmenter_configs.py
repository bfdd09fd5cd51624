"""Every segmenter config (trained on pseudo-labels) loads, builds, fits its data, trains a step."""
import glob
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

import epsam  # noqa: F401  (mmcv-lite op fallback before mmseg models)
from epsam.datasets import generate_bcss_like
from epsam.registry import DATASETS, METRICS, MODELS, TRANSFORMS
from tests.conftest import REPO_ROOT, run_tool

CONFIG_DIRS = [REPO_ROOT / 'configs' / 'deeplabv3plus', REPO_ROOT / 'configs' / 'segformer']
CONFIGS = sorted(p for d in CONFIG_DIRS for p in glob.glob(str(d / '*.py')))
TINY = str(CONFIG_DIRS[0] / 'deeplabv3plus_r18-tiny_1xb8-200it_synthetic-bcss-128x128.py')
EXPECTED = {
    'deeplabv3plus_r50-d8_1xb16-20k_bcss-wsss-224x224.py',
    'deeplabv3plus_r50-d8_1xb16-20k_luad-histoseg-224x224.py',
    'deeplabv3plus_r50-d8_1xb16-20k_wsss4luad-224x224.py',
    'segformer_mit-b1_1xb16-20k_bcss-wsss-224x224.py',
    'segformer_mit-b1_1xb16-20k_luad-histoseg-224x224.py',
    'segformer_mit-b1_1xb16-20k_wsss4luad-224x224.py',
    'deeplabv3plus_r18-tiny_1xb8-200it_synthetic-bcss-128x128.py',
    'segformer_mit-tiny_1xb8-200it_synthetic-bcss-128x128.py',
    'segformer_mit-tiny_cam-pseudo_1xb8-200it_synthetic-bcss-128x128.py',
    'deeplabv3plus_r50-d8_cam-pseudo_1xb16-20k_bcss-wsss-224x224.py',
    'deeplabv3plus_r50-d8_gradcam-pseudo_1xb16-20k_bcss-wsss-224x224.py',
    'deeplabv3plus_r50-d8-mlps_gradcam-pseudo_1xb16-20k_bcss-wsss-224x224.py',
}


def _heads(model_cfg):
    aux = model_cfg.get('auxiliary_head') or []
    return [model_cfg.decode_head] + (list(aux) if isinstance(aux, list) else [aux])


def test_config_list_is_complete():
    assert CONFIGS, f'no segmenter configs found in {CONFIG_DIRS}'
    assert EXPECTED <= {osp.basename(path) for path in CONFIGS}


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_trains_on_pseudo_labels_and_matches_its_dataset(path):
    cfg = Config.fromfile(path)
    train = cfg.train_dataloader.dataset
    assert train.type == 'PseudoLabelDataset' and train.data_prefix.get('seg_map_path')
    source = DATASETS.get(train.source_dataset)
    assert source is not None, train.source_dataset
    classes = source.METAINFO['classes']
    assert classes, f'{train.source_dataset} has no classes'
    assert cfg.test_dataloader.dataset.type == train.source_dataset
    for head in _heads(cfg.model):
        assert head.num_classes == len(classes), (head.type, classes)
        assert head.ignore_index == 255
    assert any('Annotations' in t['type'] for t in train.pipeline)  # pseudo-masks are read
    for transform in train.pipeline:
        assert TRANSFORMS.get(transform['type']) is not None, transform['type']
    for evaluators in (cfg.val_evaluator, cfg.test_evaluator):
        assert sorted(e['protocol'] for e in evaluators) == ['exclude_background', 'full_matrix']
        assert all(METRICS.get(e['type']) is not None for e in evaluators)
    assert cfg.train_cfg.type == 'IterBasedTrainLoop'
    assert 'save_best' not in cfg.default_hooks.checkpoint  # no selection on pixel labels


# Full-size models take several seconds per CPU step: slow; the tiny ones always run.
STEP_CONFIGS = [path if 'tiny' in osp.basename(path) else
                pytest.param(path, marks=pytest.mark.slow) for path in CONFIGS]


@pytest.mark.parametrize('path', STEP_CONFIGS, ids=osp.basename)
def test_model_builds_and_runs_a_step_on_cpu(path):
    torch.manual_seed(0)
    cfg = Config.fromfile(path)
    with DefaultScope.overwrite_default_scope('epsam'):
        model = MODELS.build(cfg.model)
    num_classes = cfg.model.decode_head.num_classes
    samples = []
    for _ in range(2):
        seg = torch.randint(0, num_classes, (1, 64, 64))
        seg[:, :8] = 255  # unlabelled pseudo-label pixels
        sample = SegDataSample(gt_sem_seg=PixelData(data=seg))
        sample.set_metainfo(dict(img_shape=(64, 64), ori_shape=(64, 64)))
        samples.append(sample)
    inputs = [torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8) for _ in range(2)]
    batch = model.data_preprocessor(dict(inputs=inputs, data_samples=samples), True)
    losses = model(**batch, mode='loss')
    total = sum(v for k, v in losses.items() if k.endswith('loss_ce'))
    assert torch.isfinite(total)
    total.backward()
    assert model.decode_head.conv_seg.weight.grad.abs().sum() > 0
    if cfg.model.get('auxiliary_head'):
        assert sum(k.endswith('loss_ce') for k in losses) == 1 + len(cfg.model.auxiliary_head)
    model.eval()
    with torch.no_grad():
        preds = model(batch['inputs'], batch['data_samples'], mode='predict')
    assert preds[0].pred_sem_seg.data.shape == (1, 64, 64)
    assert int(preds[0].pred_sem_seg.data.max()) < num_classes


def make_tiny_pseudo_label_run(root: str) -> dict:
    """A 64 px synthetic BCSS tree and a pseudo-mask folder for 3 of its 4 training patches."""
    data_root = osp.join(root, 'data')
    generate_bcss_like(data_root, num_train=4, num_val=2, num_test=2, patch_size=64, seed=0)
    pseudo = osp.join(root, 'pseudo', 'masks')
    os.makedirs(pseudo)
    for i, path in enumerate(sorted(glob.glob(osp.join(data_root, 'training', '*.png')))[:3]):
        mask = np.full((64, 64), 255, np.uint8)
        mask[:24] = i % 4
        mask[40:] = 4  # background
        assert cv2.imwrite(osp.join(pseudo, osp.basename(path)), mask)
    options = [f'{loader}.dataset.data_root={data_root}'
               for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    options += [f'train_dataloader.dataset.data_prefix.seg_map_path={pseudo}',
                'train_dataloader.batch_size=2', 'train_cfg.max_iters=2',
                'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2']
    return dict(data_root=data_root, pseudo=pseudo, cfg_options=options)


@pytest.mark.slow
def test_tiny_synthetic_config_trains_two_iterations(tmp_path):
    run = make_tiny_pseudo_label_run(str(tmp_path))
    work_dir = tmp_path / 'work'
    proc = run_tool(['tools/train.py', TINY, '--work-dir', work_dir,
                     '--cfg-options', *run['cfg_options']])
    assert (work_dir / 'iter_2.pth').is_file()
    assert 'exclude_background/mIoU' in proc.stdout + proc.stderr
    assert 'full_matrix/mIoU' in proc.stdout + proc.stderr
    state = torch.load(work_dir / 'iter_2.pth', map_location='cpu', weights_only=True)
    assert state['meta']['iter'] == 2

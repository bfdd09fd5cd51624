"""Every config in configs/_base_/datasets parses, names registered types and builds."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.structures import BaseDataElement

from epsam.registry import DATASETS, TRANSFORMS

CONFIG_DIR = osp.join(osp.dirname(__file__), '..', '..', 'configs', '_base_', 'datasets')
# Patch-dataset configs (weakly supervised). The SAM tuning data, sam_*.py
# (pseudo-label targets whose folders the pipeline sets, and CAD's fully
# supervised full-box setting), are exercised by tests/test_pipeline and
# tests/test_configs. So are the pseudo-label data of the segmenter, pseudo_*.py
# (PseudoLabelDataset over a patch dataset), by tests/test_configs/test_segmenter_configs.py.
CONFIGS = sorted(p for p in glob.glob(osp.join(CONFIG_DIR, '*.py'))
                 if not osp.basename(p).startswith(('sam_', 'pseudo_')))
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
EXPECTED = {'camelyon16_patches.py', 'camelyon17_patches.py', 'bcss_wsss.py',
            'luad_histoseg.py', 'wsss4luad.py', 'synthetic_camelyon.py', 'synthetic_bcss.py'}


def test_config_list_is_complete():
    assert CONFIGS, f'no dataset configs found in {CONFIG_DIR}'
    assert EXPECTED <= {osp.basename(path) for path in CONFIGS}


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_parses_with_registered_types(path):
    cfg = Config.fromfile(path)
    for key in ('dataset_type', 'data_root', 'train_pipeline', 'test_pipeline') + LOADERS:
        assert key in cfg, f'{osp.basename(path)} lacks {key}'
    assert DATASETS.get(cfg.dataset_type) is not None, cfg.dataset_type
    for loader in LOADERS:
        dataset = cfg[loader]['dataset']
        assert dataset['type'] == cfg.dataset_type and dataset['data_root'] == cfg.data_root
        for transform in dataset['pipeline']:
            assert TRANSFORMS.get(transform['type']) is not None, transform['type']
    assert cfg.train_pipeline[-1]['type'] == 'PackPatchInputs'
    # weak supervision: no training pipeline loads pixel labels
    assert all('Annotations' not in t['type'] for t in cfg.train_pipeline)


def _tree_writer(trees, name):
    if 'camelyon' in name:
        return trees.camelyon
    if 'bcss' in name:
        return trees.bcss
    if 'luad_histoseg' in name:
        return trees.luad
    if 'wsss4luad' in name:
        return trees.wsss4luad
    raise AssertionError(f'no test tree for {name}')


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_datasets_build_and_load_on_a_tiny_tree(path, tmp_path, trees):
    cfg = Config.fromfile(path)
    root = _tree_writer(trees, osp.basename(path))(str(tmp_path))
    for loader in LOADERS:
        dataset_cfg = cfg[loader]['dataset'].to_dict()
        dataset_cfg['data_root'] = root
        dataset = DATASETS.build(dataset_cfg)
        assert len(dataset) > 0
        sample = dataset[len(dataset) - 1]
        assert sample['inputs'].dtype == torch.uint8 and sample['inputs'].shape[0] == 3
        data_sample = sample['data_samples']
        assert isinstance(data_sample, BaseDataElement)
        num_labels = len(dataset.metainfo['cls_classes'])
        assert data_sample.gt_label.shape == (num_labels, )
        if loader != 'train_dataloader':
            seg = data_sample.gt_sem_seg.data
            assert seg.shape[1:] == sample['inputs'].shape[1:]
            assert int(seg.max()) < len(dataset.metainfo['classes'])

"""CAD-style standalone configs: equal budget across variants, full-image box prompts."""
import glob

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from epsam.datasets.synthetic import generate_camelyon_like
from epsam.registry import DATASETS
from tests.conftest import REPO_ROOT

TINY = sorted(glob.glob(str(REPO_ROOT / 'configs' / 'sam_tuning' / '*-fullbox_tiny_*.py')))


def test_the_six_variants_differ_only_in_the_model():
    assert len(TINY) == 6
    configs = [Config.fromfile(path).to_dict() for path in TINY]
    adapters = {str((cfg['model'].get('adapter') or {}).get('type')) for cfg in configs}
    assert adapters == {'None', 'CADAdapter', 'SAMAdapter', 'BottleneckAdapter', 'LoRAAdapter'}
    assert {cfg['model']['loss']['type'] for cfg in configs} == {'BCEIoULoss'}
    rest = [{k: v for k, v in cfg.items() if k != 'model'} for cfg in configs]
    assert all(other == rest[0] for other in rest[1:])


def test_standalone_data_pairs_ground_truth_with_a_full_image_box(tmp_path):
    generate_camelyon_like(str(tmp_path), num_train=6, num_val=1, num_test=4, patch_size=48,
                           seed=0)
    cfg = Config.fromfile(TINY[0])
    with DefaultScope.overwrite_default_scope('epsam'):
        for loader in ('train_dataloader', 'test_dataloader'):
            dataset_cfg = cfg[loader].dataset.to_dict()
            dataset_cfg['data_root'] = str(tmp_path)
            dataset = DATASETS.build(dataset_cfg)
            assert len(dataset) > 0  # positive patches only
            sample = dataset[0]['data_samples']
            assert torch.equal(torch.as_tensor(sample.prompt_boxes, dtype=torch.float32),
                               torch.tensor([[0.0, 0.0, 47.0, 47.0]]))
            assert set(sample.gt_sem_seg.data.unique().tolist()) <= {0, 1}
            assert int(sample.gt_sem_seg.data.sum()) > 0

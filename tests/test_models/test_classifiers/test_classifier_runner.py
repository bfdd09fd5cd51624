import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.runner import Runner
from synthetic_patches import make_patches, make_samples
from torch.utils.data import DataLoader, Dataset

import epsam  # noqa: F401

CONFIG = osp.join(osp.dirname(__file__), '..', '..', '..', 'configs', '_base_', 'models',
                  'adl_resnet18_cam_tiny.py')


class InMemoryPatches(Dataset):
    """Synthetic patches in the packed form: dict(inputs=uint8 (3, H, W), data_samples)."""

    metainfo = dict(classes=('normal', 'tumor'), cls_classes=('tumor', ), background_index=0)

    def __init__(self, count, seed):
        self.images, labels, _ = make_patches(count, 64, torch.Generator().manual_seed(seed))
        self.samples = make_samples(labels)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        return dict(inputs=self.images[index], data_samples=self.samples[index])


@pytest.mark.slow
def test_trains_and_validates_with_mmengine_runner(tmp_path):
    model_cfg = Config.fromfile(CONFIG).model

    def loader(count, seed, shuffle):
        return DataLoader(InMemoryPatches(count, seed), batch_size=8, shuffle=shuffle,
                          collate_fn=pseudo_collate)

    runner = Runner(
        model=model_cfg,
        work_dir=str(tmp_path),
        train_dataloader=loader(32, 0, True),
        val_dataloader=loader(8, 1, False),
        val_evaluator=dict(type='PatchClassificationMetric'),
        train_cfg=dict(by_epoch=True, max_epochs=2, val_interval=2),
        val_cfg=dict(),
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=1e-3)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2),
                           logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[dict(type='WeightsOnlyCheckpointHook')],
        default_scope='epsam',
        randomness=dict(seed=0),
        log_level='WARNING')
    runner.train()
    metrics = runner.val_loop.run()
    assert set(metrics) >= {'cls/accuracy', 'cls/precision', 'cls/recall', 'cls/f1'}
    assert all(0.0 <= value <= 100.0 for value in metrics.values())
    checkpoint = torch.load(osp.join(str(tmp_path), 'epoch_2.pth'), map_location='cpu',
                            weights_only=True)
    assert 'head.fc.weight' in checkpoint['state_dict']

"""Fake ``SegDataSample``s and an mmengine ``Evaluator`` runner for metric tests."""
from typing import Optional, Sequence

import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

import epsam  # noqa: F401  (before mmseg imports)


def make_sample(pred, gt=None, *, img_path: str = 'img.png',
                gt_label: Optional[Sequence[float]] = None) -> SegDataSample:
    """A SegDataSample with ``pred_sem_seg`` (and ``gt_sem_seg``) of shape (1, H, W)."""
    sample = SegDataSample(metainfo=dict(img_path=img_path))
    sample.pred_sem_seg = PixelData(data=torch.as_tensor(pred, dtype=torch.long)[None])
    if gt is not None:
        sample.gt_sem_seg = PixelData(data=torch.as_tensor(gt, dtype=torch.long)[None])
    if gt_label is not None:
        sample.gt_label = torch.as_tensor(gt_label, dtype=torch.float32)
    return sample


def run_evaluator(metrics, batches, dataset_meta: dict) -> dict:
    """Run ``metrics`` (instances or configs) through an ``Evaluator`` batch by batch."""
    evaluator = Evaluator(metrics)
    evaluator.dataset_meta = dataset_meta
    num = 0
    for batch in batches:
        evaluator.process(data_samples=batch, data_batch=None)
        num += len(batch)
    return evaluator.evaluate(num)


@pytest.fixture
def sample_factory():
    return make_sample


@pytest.fixture
def evaluate():
    return run_evaluator

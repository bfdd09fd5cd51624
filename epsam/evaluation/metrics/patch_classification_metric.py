"""Patch-level classification metric (binary and multi-label)."""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from epsam.registry import METRICS


@METRICS.register_module()
class PatchClassificationMetric(BaseMetric):
    """Accuracy, precision, recall and F1 of image-level predictions.

    A class is predicted present when its score (``pred_score``, sigmoid) is
    ``>= threshold``; it is compared with the multi-hot ``gt_label``. Counts
    are pooled over the dataset per class; precision / recall / F1 are then
    averaged over the classes present in the labels (macro over classes with at
    least one positive label; classes absent from the validation set are left
    out of the mean, so a checkpoint is not selected on their F1 of 0; with
    one class this is the binary score). All values are percentages. A class
    with no positive prediction gets precision 0.

    Keys: ``accuracy`` (label-wise), ``exact_match`` (all labels of a patch
    right), ``precision``, ``recall``, ``f1``, and, with more than one class,
    ``f1_<class name>`` per class when ``class_names`` are known.

    Args:
        threshold: score threshold in [0, 1].
        class_names: names of the classes; default the dataset meta's
            ``cls_classes`` when the runner sets it.
        collect_device: 'cpu' or 'gpu', as mmengine's ``BaseMetric``.
        prefix: key prefix, as mmengine's ``BaseMetric``.
    """

    default_prefix = 'cls'

    def __init__(self,
                 threshold: float = 0.5,
                 class_names: Optional[Sequence[str]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f'PatchClassificationMetric: threshold must be in [0, 1], '
                             f'got {threshold}')
        self.threshold = threshold
        self.class_names = tuple(class_names) if class_names is not None else None

    def process(self, data_batch, data_samples: Sequence) -> None:
        for index, sample in enumerate(data_samples):
            if not isinstance(sample, dict):
                sample = sample.to_dict()
            for key in ('pred_score', 'gt_label'):
                if key not in sample:
                    raise KeyError(f'PatchClassificationMetric: sample {index} has no {key!r} '
                                   '(use CAMClassifier predictions on patches with labels)')
            score = torch.as_tensor(sample['pred_score']).detach().flatten().cpu()
            label = torch.as_tensor(sample['gt_label']).detach().flatten().cpu()
            if score.shape != label.shape:
                raise ValueError(f'PatchClassificationMetric: pred_score {tuple(score.shape)} '
                                 f'and gt_label {tuple(label.shape)} differ in shape')
            self.results.append(((score >= self.threshold).numpy(), label.numpy() > 0.5))

    def compute_metrics(self, results: List) -> Dict[str, float]:
        predicted = np.stack([r[0] for r in results])
        actual = np.stack([r[1] for r in results])
        true_pos = (predicted & actual).sum(0).astype(float)
        pred_pos = predicted.sum(0).astype(float)
        real_pos = actual.sum(0).astype(float)
        precision = np.divide(true_pos, pred_pos, out=np.zeros_like(true_pos), where=pred_pos > 0)
        recall = np.divide(true_pos, real_pos, out=np.zeros_like(true_pos), where=real_pos > 0)
        denom = precision + recall
        f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
        # Macro means over the classes present in these labels: a class with no
        # positive label has no recall, so its F1 of 0 would only drag the mean.
        present = real_pos > 0 if real_pos.any() else np.ones_like(real_pos, bool)
        metrics = dict(
            accuracy=100.0 * float((predicted == actual).mean()),
            exact_match=100.0 * float((predicted == actual).all(1).mean()),
            precision=100.0 * float(precision[present].mean()),
            recall=100.0 * float(recall[present].mean()),
            f1=100.0 * float(f1[present].mean()))
        names = self.class_names or tuple((self.dataset_meta or {}).get('cls_classes', ()))
        if f1.size > 1 and len(names) == f1.size:
            metrics.update({f'f1_{name}': 100.0 * float(value) for name, value in zip(names, f1)})
        return metrics

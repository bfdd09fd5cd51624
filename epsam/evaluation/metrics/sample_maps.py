"""Read label maps out of the dicts mmengine's Evaluator hands to a metric.

``Evaluator.process`` turns each ``SegDataSample`` into a dict with
``to_dict()``, so a metric sees ``sample['pred_sem_seg']['data']`` (shape
``(1, H, W)``) and, when the image has a mask, ``sample['gt_sem_seg']['data']``.
"""
from typing import Any, Mapping, Optional

import torch


def sample_name(sample: Mapping[str, Any]) -> str:
    """A name for error messages and per-image tables: ``img_path`` if set."""
    return str(sample.get('img_path', '<sample without img_path>'))


def read_label_map(sample: Mapping[str, Any], field: str, *,
                   required: bool = True) -> Optional[torch.Tensor]:
    """Return ``sample[field]['data']`` as an ``(H, W)`` tensor.

    Args:
        sample (Mapping): One data sample as a dict (``SegDataSample.to_dict()``);
            a ``BaseDataElement`` is converted first.
        field (str): ``'pred_sem_seg'`` or ``'gt_sem_seg'``.
        required (bool): If False, a missing field returns None instead of
            raising.

    Returns:
        torch.Tensor | None: class indices of shape ``(H, W)``.

    Raises:
        KeyError: the field is missing and ``required``.
        ValueError: the map is not ``(H, W)`` or ``(1, H, W)``.
    """
    if hasattr(sample, 'to_dict'):
        sample = sample.to_dict()
    entry = sample.get(field)
    if entry is None:
        if required:
            raise KeyError(f'data sample {sample_name(sample)} has no `{field}`; '
                           f'fields present: {sorted(sample.keys())}')
        return None
    data = entry['data'] if isinstance(entry, Mapping) else getattr(entry, 'data', entry)
    data = torch.as_tensor(data)
    if data.ndim == 3 and data.shape[0] == 1:
        data = data[0]
    if data.ndim != 2:
        raise ValueError(f'`{field}` of data sample {sample_name(sample)} must have shape '
                         f'(H, W) or (1, H, W) of class indices, got {tuple(data.shape)}')
    return data


def read_pred_and_gt(sample: Mapping[str, Any], *, gt_required: bool = True):
    """Read ``(pred, gt)`` label maps and check they have the same shape.

    Args:
        sample (Mapping): One data sample as a dict.
        gt_required (bool): If False, ``gt`` is None when the sample has no
            ``gt_sem_seg``.

    Returns:
        tuple: ``(pred, gt)``, each ``(H, W)`` (``gt`` may be None).
    """
    pred = read_label_map(sample, 'pred_sem_seg')
    gt = read_label_map(sample, 'gt_sem_seg', required=gt_required)
    if gt is not None and gt.shape != pred.shape:
        raise ValueError(f'data sample {sample_name(sample)}: pred_sem_seg shape '
                         f'{tuple(pred.shape)} differs from gt_sem_seg shape {tuple(gt.shape)}')
    return pred, gt

"""Pure segmentation-metric maths on label maps and confusion matrices.

Conventions used by every function here:

* Label maps are integer tensors of shape ``(H, W)`` holding class indices;
  ``ignore_index`` (255 by default) marks unlabelled ground-truth pixels.
* A confusion matrix ``conf`` has shape ``(K, K)``: rows are ground-truth
  classes, columns are predicted classes, entries are pixel counts (int64).
* Ratios are fractions in ``[0, 1]``; the metric classes turn them into
  percent. A ratio whose denominator is 0 (for example the IoU of a class that
  occurs neither in the ground truth nor in the prediction) is ``NaN``, and the
  means below skip NaN entries.
"""
from typing import Optional, Sequence, Tuple

import torch

#: EP-SAM's smoothing constant for per-image Dice and IoU.
DEFAULT_SMOOTH = 1e-3


def _check_same_shape(pred: torch.Tensor, gt: torch.Tensor) -> None:
    if pred.shape != gt.shape:
        raise ValueError(f'prediction shape {tuple(pred.shape)} differs from ground-truth '
                         f'shape {tuple(gt.shape)}')


def confusion_matrix(pred: torch.Tensor, gt: torch.Tensor, num_classes: int,
                     ignore_index: Optional[int] = 255) -> torch.Tensor:
    """Count pixels per (ground-truth class, predicted class) pair.

    Args:
        pred (torch.Tensor): Predicted class indices, any shape.
        gt (torch.Tensor): Ground-truth class indices, same shape as ``pred``.
        num_classes (int): Number of classes ``K``.
        ignore_index (int, optional): Ground-truth value whose pixels are not
            counted. ``None`` counts every pixel.

    Returns:
        torch.Tensor: int64 matrix of shape ``(K, K)``, rows = ground truth,
        columns = prediction, on the CPU.

    Raises:
        ValueError: shapes differ, or a counted pixel holds an index outside
            ``[0, K)``.
    """
    _check_same_shape(pred, gt)
    if num_classes < 1:
        raise ValueError(f'num_classes must be >= 1, got {num_classes}')
    pred = pred.reshape(-1).long().cpu()
    gt = gt.reshape(-1).long().cpu()
    if ignore_index is not None:
        keep = gt != ignore_index
        pred, gt = pred[keep], gt[keep]
    for name, values in (('ground-truth', gt), ('prediction', pred)):
        bad = (values < 0) | (values >= num_classes)
        if bool(bad.any()):
            raise ValueError(f'{name} holds class index {int(values[bad][0])} outside '
                             f'[0, {num_classes}) (ignore_index={ignore_index})')
    flat = gt * num_classes + pred
    counts = torch.bincount(flat, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def _safe_ratio(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    numerator = numerator.double()
    denominator = denominator.double()
    out = torch.full_like(numerator, float('nan'))
    valid = denominator > 0
    out[valid] = numerator[valid] / denominator[valid]
    return out


def class_areas(conf: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-class intersection, predicted area and ground-truth area.

    Args:
        conf (torch.Tensor): Confusion matrix ``(K, K)``.

    Returns:
        tuple[torch.Tensor]: ``(intersection, pred_area, gt_area)``, each of
        shape ``(K,)``, in pixels.
    """
    if conf.ndim != 2 or conf.shape[0] != conf.shape[1]:
        raise ValueError(f'confusion matrix must be square (K, K), got {tuple(conf.shape)}')
    return conf.diagonal(), conf.sum(dim=0), conf.sum(dim=1)


def iou_from_confusion(conf: torch.Tensor) -> torch.Tensor:
    """Per-class IoU ``|P∩G| / |P∪G|`` from a confusion matrix.

    Args:
        conf (torch.Tensor): Confusion matrix ``(K, K)``.

    Returns:
        torch.Tensor: float64 ``(K,)`` fractions; NaN for a class that occurs
        in neither ground truth nor prediction.
    """
    inter, pred_area, gt_area = class_areas(conf)
    return _safe_ratio(inter, pred_area + gt_area - inter)


def dice_from_confusion(conf: torch.Tensor) -> torch.Tensor:
    """Per-class Dice ``2|P∩G| / (|P|+|G|)`` from a confusion matrix.

    Args:
        conf (torch.Tensor): Confusion matrix ``(K, K)``.

    Returns:
        torch.Tensor: float64 ``(K,)`` fractions; NaN where ``|P|+|G| = 0``.
    """
    inter, pred_area, gt_area = class_areas(conf)
    return _safe_ratio(2 * inter, pred_area + gt_area)


def class_accuracy(conf: torch.Tensor) -> torch.Tensor:
    """Per-class pixel accuracy (recall) ``|P∩G| / |G|``.

    Args:
        conf (torch.Tensor): Confusion matrix ``(K, K)``.

    Returns:
        torch.Tensor: float64 ``(K,)`` fractions; NaN where ``|G| = 0``.
    """
    inter, _, gt_area = class_areas(conf)
    return _safe_ratio(inter, gt_area)


def pixel_accuracy(conf: torch.Tensor) -> float:
    """Overall pixel accuracy: correct pixels / counted pixels.

    Args:
        conf (torch.Tensor): Confusion matrix ``(K, K)``.

    Returns:
        float: fraction; NaN when the matrix counts no pixel.
    """
    total = int(conf.sum())
    return float(conf.diagonal().sum()) / total if total > 0 else float('nan')


def nanmean_over(values: torch.Tensor, class_indices: Sequence[int]) -> float:
    """Mean of ``values[class_indices]`` skipping NaN entries.

    Args:
        values (torch.Tensor): Per-class values ``(K,)``.
        class_indices (Sequence[int]): Classes to average over.

    Returns:
        float: the mean; NaN when every selected entry is NaN or none is
        selected (no warning is raised).
    """
    selected = values[list(class_indices)].double()
    selected = selected[~torch.isnan(selected)]
    return float(selected.mean()) if selected.numel() > 0 else float('nan')


def frequency_weighted_iou(conf: torch.Tensor, class_indices: Sequence[int]) -> float:
    """IoU weighted by each class's ground-truth pixel share.

    ``FwIoU = sum_c (|G_c| / sum_k |G_k|) * IoU_c`` over ``class_indices``.
    A class with no ground-truth pixel has weight 0, so its IoU (0 or NaN)
    does not count.

    Args:
        conf (torch.Tensor): Confusion matrix ``(K, K)``.
        class_indices (Sequence[int]): Classes counted (weights are
            renormalised over them).

    Returns:
        float: fraction; NaN when the selected classes have no ground truth.
    """
    indices = list(class_indices)
    gt_area = conf.sum(dim=1)[indices].double()
    total = float(gt_area.sum())
    if total <= 0:
        return float('nan')
    iou = iou_from_confusion(conf)[indices]
    present = gt_area > 0
    return float((gt_area[present] / total * iou[present]).sum())


def exclude_gt_class(conf: torch.Tensor, class_index: int) -> torch.Tensor:
    """Drop the pixels whose ground truth is ``class_index``.

    Zeroes that row of the confusion matrix (shape stays ``(K, K)``), so
    pixels of other classes predicted as ``class_index`` still count as errors.

    Args:
        conf (torch.Tensor): Confusion matrix ``(K, K)``.
        class_index (int): Ground-truth class to drop (e.g. background).

    Returns:
        torch.Tensor: a new confusion matrix.
    """
    if not 0 <= class_index < conf.shape[0]:
        raise ValueError(f'class_index {class_index} outside [0, {conf.shape[0]})')
    out = conf.clone()
    out[class_index] = 0
    return out


def foreground_mask(label: torch.Tensor, *, foreground_indices: Optional[Sequence[int]] = None,
                    background_index: Optional[int] = None,
                    ignore_index: Optional[int] = 255) -> torch.Tensor:
    """Binary foreground of a label map.

    Exactly one of ``foreground_indices`` and ``background_index`` is used:
    pixels whose label is in ``foreground_indices``, or else every pixel that
    is neither ``background_index`` nor ``ignore_index``.

    Args:
        label (torch.Tensor): Class indices ``(H, W)``.
        foreground_indices (Sequence[int], optional): Foreground classes.
        background_index (int, optional): Background class, used when
            ``foreground_indices`` is None.
        ignore_index (int, optional): Never foreground.

    Returns:
        torch.Tensor: bool ``(H, W)``.
    """
    if foreground_indices is not None:
        indices = torch.as_tensor(list(foreground_indices), dtype=label.dtype,
                                  device=label.device)
        return torch.isin(label, indices)
    if background_index is None:
        raise ValueError('foreground_mask needs foreground_indices or background_index')
    mask = label != background_index
    if ignore_index is not None:
        mask &= label != ignore_index
    return mask


def foreground_counts(pred_fg: torch.Tensor, gt_fg: torch.Tensor,
                      valid: Optional[torch.Tensor] = None) -> Tuple[int, int, int]:
    """Pixel counts ``(|P∩G|, |P|, |G|)`` of two binary masks.

    Args:
        pred_fg (torch.Tensor): Predicted foreground, bool ``(H, W)``.
        gt_fg (torch.Tensor): Ground-truth foreground, bool ``(H, W)``.
        valid (torch.Tensor, optional): Pixels to count (e.g. not ignored),
            bool ``(H, W)``; all pixels when None.

    Returns:
        tuple[int]: intersection, predicted area, ground-truth area in pixels.
    """
    _check_same_shape(pred_fg, gt_fg)
    pred_fg, gt_fg = pred_fg.bool(), gt_fg.bool()
    if valid is not None:
        _check_same_shape(pred_fg, valid)
        pred_fg, gt_fg = pred_fg & valid, gt_fg & valid
    return int((pred_fg & gt_fg).sum()), int(pred_fg.sum()), int(gt_fg.sum())


def smoothed_dice_iou(intersection: int, pred_area: int, gt_area: int,
                      smooth: float = DEFAULT_SMOOTH) -> Tuple[float, float]:
    """EP-SAM's smoothed Dice and IoU from pixel counts.

    ``Dice = (2|P∩G| + s) / (|P| + |G| + s)`` and
    ``IoU = (|P∩G| + s) / (|P∪G| + s)``. With both masks empty both scores
    are exactly 1 (a correct "no foreground" answer); with one mask empty and
    the other not they are close to 0.

    Args:
        intersection (int): ``|P∩G|`` in pixels.
        pred_area (int): ``|P|`` in pixels.
        gt_area (int): ``|G|`` in pixels.
        smooth (float): ``s``, must be > 0 so the ratios are always defined.

    Returns:
        tuple[float]: ``(dice, iou)`` as fractions in ``[0, 1]``.
    """
    if smooth <= 0:
        raise ValueError(f'smooth must be > 0, got {smooth}')
    if not 0 <= intersection <= min(pred_area, gt_area):
        raise ValueError(f'intersection {intersection} must lie in [0, min(pred_area, '
                         f'gt_area)] = [0, {min(pred_area, gt_area)}]')
    union = pred_area + gt_area - intersection
    dice = (2 * intersection + smooth) / (pred_area + gt_area + smooth)
    iou = (intersection + smooth) / (union + smooth)
    return dice, iou


def dice_iou_per_image(pred_fg: torch.Tensor, gt_fg: torch.Tensor,
                       smooth: float = DEFAULT_SMOOTH,
                       valid: Optional[torch.Tensor] = None) -> Tuple[float, float]:
    """Smoothed foreground Dice and IoU of one image (EP-SAM's protocol).

    Args:
        pred_fg (torch.Tensor): Predicted foreground, bool ``(H, W)``.
        gt_fg (torch.Tensor): Ground-truth foreground, bool ``(H, W)``.
        smooth (float): Smoothing constant, 1e-3 in EP-SAM.
        valid (torch.Tensor, optional): Pixels to count, bool ``(H, W)``.
            If no pixel is valid both scores are 1 (both masks are empty).

    Returns:
        tuple[float]: ``(dice, iou)`` as fractions in ``[0, 1]``.
    """
    return smoothed_dice_iou(*foreground_counts(pred_fg, gt_fg, valid), smooth=smooth)

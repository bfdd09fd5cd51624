"""Merge per-class SAM masks of one image into a multi-class pseudo-label map.

The single-class pipeline (prompt -> SAM -> selector) gives one binary mask per
tissue class present in the image label. :func:`merge_class_masks` turns those
masks into one ``(H, W)`` class map for the segmenter trained on
pseudo-labels:

1. masks of classes absent from the image label (or whose SAM score is below
   ``min_sam_score``) are dropped;
2. a pixel covered by one mask takes that class; a pixel covered by several
   takes the class with the highest CAM value there (``resolve='cam'``) or the
   class whose mask has the highest SAM predicted IoU (``resolve='sam'``);
3. a pixel covered by no mask is background when the CAM of every present
   class is below ``min_confidence`` there, else ``ignore_index`` (the CAM
   sees tissue that no SAM mask claimed: not trusted either way);
4. white (glass) pixels, when ``white_mask`` is given, are background whatever
   covers them: glass is never tissue.
"""
from typing import Mapping, Optional, Sequence, Union

import numpy as np
import torch

__all__ = ['merge_class_masks', 'RESOLVE_MODES']

#: How overlapping masks are resolved.
RESOLVE_MODES = ('cam', 'sam')

ArrayLike = Union[np.ndarray, torch.Tensor]


def _as_numpy(array: ArrayLike) -> np.ndarray:
    if isinstance(array, torch.Tensor):
        return array.detach().cpu().numpy()
    return np.asarray(array)


def _cam_in_unit_range(cam: ArrayLike) -> np.ndarray:
    """(K, H, W) float32 CAM in [0, 1]; uint8 CAMs (as stored on disk) are divided by 255."""
    cam = _as_numpy(cam)
    if cam.ndim != 3 or 0 in cam.shape:
        raise ValueError(f'merge_class_masks: cam must be (K, H, W), got shape {cam.shape}')
    if cam.dtype == np.uint8:
        return cam.astype(np.float32) / 255.0
    if not np.issubdtype(cam.dtype, np.floating):
        raise ValueError('merge_class_masks: cam must be float in [0, 1] or uint8 (0-255), '
                         f'got dtype {cam.dtype}')
    cam = cam.astype(np.float32)
    if not np.isfinite(cam).all():
        raise ValueError('merge_class_masks: cam contains NaN or infinite values')
    return np.clip(cam, 0.0, 1.0)


def _binary_mask(mask: ArrayLike, name: str, shape: tuple) -> np.ndarray:
    mask = _as_numpy(mask)
    if mask.shape != shape:
        raise ValueError(f'merge_class_masks: {name} has shape {mask.shape}, the CAM is {shape}')
    if mask.dtype != np.bool_:
        values = np.unique(mask)
        if not np.isin(values, (0, 1)).all():
            raise ValueError(f'merge_class_masks: {name} must be boolean or 0/1, '
                             f'found values {values[:8].tolist()}')
        mask = mask.astype(bool)
    return mask


def _present_classes(image_label: Optional[Sequence], num_classes: int) -> np.ndarray:
    if image_label is None:
        return np.ones(num_classes, dtype=bool)
    present = _as_numpy(image_label).astype(np.float32).reshape(-1)
    if present.size != num_classes:
        raise ValueError(f'merge_class_masks: image_label has {present.size} entries, '
                         f'the CAM has {num_classes} classes')
    return present > 0.5


def _check_indices(background_index: int, ignore_index: int, num_classes: int) -> None:
    if not 0 <= ignore_index <= 255:
        raise ValueError(f'merge_class_masks: ignore_index must fit in uint8, got {ignore_index}')
    if (not 0 <= background_index <= 255 or background_index == ignore_index
            or background_index < num_classes):
        raise ValueError(f'merge_class_masks: background_index {background_index} must fit in '
                         f'uint8 and differ from the class indices 0..{num_classes - 1} and '
                         f'ignore_index {ignore_index}')


def merge_class_masks(masks: Mapping[int, ArrayLike],
                      cam: ArrayLike,
                      sam_scores: Optional[Mapping[int, float]] = None,
                      *,
                      resolve: str = 'cam',
                      background_index: int,
                      ignore_index: int = 255,
                      min_confidence: float = 0.2,
                      image_label: Optional[Sequence] = None,
                      min_sam_score: Optional[float] = None,
                      white_mask: Optional[ArrayLike] = None) -> np.ndarray:
    """Merge per-class binary SAM masks into one class map.

    Args:
        masks: Tissue class index k (channel of ``cam``) -> (H, W) boolean
            (or 0/1) SAM mask of class k. Classes without a mask (rejected
            by the selector, no prompts) are simply missing.
        cam: (K, H, W) CAMs of the K tissue classes, float in [0, 1] or
            uint8 0-255 (the CAM store's format), at the masks' size.
        sam_scores: Class k -> SAM predicted IoU of ``masks[k]``. Needed for
            every mask when ``resolve='sam'`` or ``min_sam_score`` is set.
        resolve: ``'cam'``: an overlap pixel takes the covering class with
            the highest CAM there; ``'sam'``: the covering class whose mask
            has the highest SAM score. Ties go to the lower class index.
        background_index: Class-map value of background (K in BCSS-WSSS and
            LUAD-HistoSeg); must differ from 0..K-1 and ``ignore_index``.
        ignore_index: Class-map value of pixels no rule decides.
        min_confidence: CAM value in [0, 1]: an uncovered pixel whose CAM
            over the present classes stays below it is background, otherwise
            it is ignored.
        image_label: Optional (K,) multi-hot image label; masks and CAMs of
            absent classes are dropped, so those classes never appear.
            ``None``: every class of ``masks`` counts as present.
        min_sam_score: Masks whose SAM score is below this are dropped;
            ``None`` keeps all.
        white_mask: Optional (H, W) boolean map of white / glass pixels,
            which become background whatever covers them.

    Returns:
        np.ndarray: (H, W) uint8 map of tissue classes 0..K-1,
        ``background_index`` and ``ignore_index``.
    """
    if resolve not in RESOLVE_MODES:
        raise ValueError(f'merge_class_masks: resolve must be one of {RESOLVE_MODES}, '
                         f'got {resolve!r}')
    if not 0.0 <= min_confidence <= 1.0:
        raise ValueError(f'merge_class_masks: min_confidence must be in [0, 1], '
                         f'got {min_confidence}')
    cam = _cam_in_unit_range(cam)
    num_classes, height, width = cam.shape
    _check_indices(background_index, ignore_index, num_classes)
    present = _present_classes(image_label, num_classes)
    scores = dict(sam_scores or {})
    need_scores = resolve == 'sam' or min_sam_score is not None

    kept = {}
    for cls, mask in masks.items():
        if not 0 <= int(cls) < num_classes:
            raise ValueError(f'merge_class_masks: mask for class {cls} outside the CAM\'s '
                             f'{num_classes} classes')
        mask = _binary_mask(mask, f'the mask of class {cls}', (height, width))
        if not present[cls]:
            continue
        if need_scores and cls not in scores:
            raise ValueError(f'merge_class_masks: no SAM score for the mask of class {cls} '
                             f"(needed by resolve='sam' or min_sam_score)")
        if min_sam_score is not None and float(scores[cls]) < min_sam_score:
            continue
        kept[int(cls)] = mask

    cam = cam * present[:, None, None]
    class_map = np.where(cam.max(axis=0) < min_confidence, background_index,
                         ignore_index).astype(np.uint8)
    if kept:
        order = sorted(kept)
        stacked = np.stack([kept[c] for c in order])  # (M, H, W)
        if resolve == 'cam':
            priority = np.where(stacked, cam[order], -1.0)
        else:
            mask_scores = np.array([float(scores[c]) for c in order], dtype=np.float32)
            priority = np.where(stacked, mask_scores[:, None, None], -np.inf)
        winner = np.asarray(order, dtype=np.uint8)[priority.argmax(axis=0)]
        covered = stacked.any(axis=0)
        class_map[covered] = winner[covered]
    if white_mask is not None:
        white = _binary_mask(white_mask, 'white_mask', (height, width))
        class_map[white] = background_index
    return class_map

"""Common interface and input checks of the pseudo-label selectors."""
from typing import NamedTuple, Optional, Union

import numpy as np
import torch


class SelectionResult(NamedTuple):
    """Verdict on one SAM mask.

    Args:
        keep: whether the SAM mask becomes the image's pseudo-label.
        score: the score compared with the selector's threshold.
        reason: a short human-readable explanation, for logs.
    """

    keep: bool
    score: float
    reason: str


class BatchSelection(NamedTuple):
    """Verdicts on a batch of SAM masks.

    Args:
        keep: ``(B,)`` bool tensor.
        scores: ``(B,)`` float64 tensor.
    """

    keep: torch.Tensor
    scores: torch.Tensor


class BaseSelector:
    """Decide whether SAM's mask for an image is kept as its pseudo-label.

    Called as ``selector(sam_mask, cam_mask, predicted_iou)`` on one image, or
    ``selector.select_batch(sam_masks, cam_masks, predicted_ious)`` on a batch
    of torch tensors (same verdicts, no Python loop over images).

    Args of ``__call__``:
        sam_mask: ``(H, W)`` bool mask predicted by SAM (logit > 0).
        cam_mask: ``(H, W)`` bool CAM mask of the same image.
        predicted_iou: SAM's own IoU prediction for ``sam_mask``, or ``None``.
    """

    def __call__(self, sam_mask: np.ndarray, cam_mask: np.ndarray,
                 predicted_iou: Optional[float] = None) -> SelectionResult:
        sam_mask = _check_mask(sam_mask, 'sam_mask')
        cam_mask = _check_mask(cam_mask, 'cam_mask')
        if sam_mask.shape != cam_mask.shape:
            raise ValueError(f'sam_mask shape {sam_mask.shape} differs from cam_mask shape '
                             f'{cam_mask.shape}')
        if predicted_iou is not None:
            predicted_iou = float(predicted_iou)
            if not np.isfinite(predicted_iou):
                raise ValueError(f'predicted_iou must be finite, got {predicted_iou}')
        return self.select(sam_mask, cam_mask, predicted_iou)

    def select_batch(self, sam_masks: torch.Tensor, cam_masks: torch.Tensor,
                     predicted_ious: Optional[torch.Tensor] = None) -> BatchSelection:
        """Batched selection.

        Args:
            sam_masks: ``(B, H, W)`` bool tensor of SAM masks.
            cam_masks: ``(B, H, W)`` bool tensor of CAM masks.
            predicted_ious: ``(B,)`` SAM IoU predictions, or ``None``.

        Returns:
            :class:`BatchSelection` with ``keep`` and ``scores`` of shape ``(B,)``.
        """
        sam_masks = _check_mask_batch(sam_masks, 'sam_masks')
        cam_masks = _check_mask_batch(cam_masks, 'cam_masks')
        if sam_masks.shape != cam_masks.shape:
            raise ValueError(f'sam_masks shape {tuple(sam_masks.shape)} differs from cam_masks '
                             f'shape {tuple(cam_masks.shape)}')
        if predicted_ious is not None:
            predicted_ious = torch.as_tensor(predicted_ious).to(
                device=sam_masks.device, dtype=torch.float64).reshape(-1)
            if predicted_ious.numel() != sam_masks.shape[0]:
                raise ValueError(f'predicted_ious has {predicted_ious.numel()} values for a '
                                 f'batch of {sam_masks.shape[0]} masks')
            if not torch.isfinite(predicted_ious).all():
                raise ValueError('predicted_ious hold NaN or infinite values')
        return self.select_checked_batch(sam_masks, cam_masks, predicted_ious)

    def select(self, sam_mask: np.ndarray, cam_mask: np.ndarray,
               predicted_iou: Optional[float]) -> SelectionResult:
        """Verdict on checked single-image inputs (implemented by subclasses)."""
        raise NotImplementedError

    def select_checked_batch(self, sam_masks: torch.Tensor, cam_masks: torch.Tensor,
                             predicted_ious: Optional[torch.Tensor]) -> BatchSelection:
        """Verdicts on checked batched inputs (implemented by subclasses)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ', '.join(f'{k}={v!r}' for k, v in vars(self).items())
        return f'{type(self).__name__}({args})'


class ThresholdSelector(BaseSelector):
    """Keep a mask when its score is at least ``threshold`` (``score >= threshold``).

    Subclasses define ``name``, :meth:`score` and :meth:`score_batch`.

    Args:
        threshold: the smallest score kept, in [0, 1].
    """

    name = 'score'

    def __init__(self, threshold: float) -> None:
        if isinstance(threshold, bool) or not 0.0 <= float(threshold) <= 1.0:
            raise ValueError(f'{type(self).__name__}.threshold must be in [0, 1], '
                             f'got {threshold!r}')
        self.threshold = float(threshold)

    def score(self, sam_mask: np.ndarray, cam_mask: np.ndarray,
              predicted_iou: Optional[float]) -> float:
        """Score of one image (implemented by subclasses)."""
        raise NotImplementedError

    def score_batch(self, sam_masks: torch.Tensor, cam_masks: torch.Tensor,
                    predicted_ious: Optional[torch.Tensor]) -> torch.Tensor:
        """``(B,)`` float64 scores of a batch (implemented by subclasses)."""
        raise NotImplementedError

    def select(self, sam_mask: np.ndarray, cam_mask: np.ndarray,
               predicted_iou: Optional[float]) -> SelectionResult:
        score = float(self.score(sam_mask, cam_mask, predicted_iou))
        keep = score >= self.threshold
        reason = f'{self.name} {score:.6g} {">=" if keep else "<"} {self.threshold:g}'
        if not sam_mask.any():
            reason += ' (empty SAM mask)'
        return SelectionResult(keep=keep, score=score, reason=reason)

    def select_checked_batch(self, sam_masks: torch.Tensor, cam_masks: torch.Tensor,
                             predicted_ious: Optional[torch.Tensor]) -> BatchSelection:
        scores = self.score_batch(sam_masks, cam_masks, predicted_ious)
        return BatchSelection(keep=scores >= self.threshold, scores=scores)


def _check_mask(mask: Union[np.ndarray, torch.Tensor], name: str) -> np.ndarray:
    """Return a 2-D bool numpy mask, or raise naming ``name``."""
    if isinstance(mask, torch.Tensor):
        mask = mask.detach().cpu().numpy()
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f'{name} must be a 2-D (H, W) mask, got shape {mask.shape}')
    if mask.dtype != np.bool_:
        if not np.isin(mask, (0, 1)).all():
            raise ValueError(f'{name} must be boolean or hold only 0/1, got dtype {mask.dtype}')
        mask = mask.astype(bool)
    return mask


def _check_mask_batch(masks: torch.Tensor, name: str) -> torch.Tensor:
    """Return a 3-D bool tensor, or raise naming ``name``."""
    if not isinstance(masks, torch.Tensor):
        raise TypeError(f'{name} must be a torch.Tensor (B, H, W), got {type(masks).__name__}')
    if masks.ndim != 3:
        raise ValueError(f'{name} must have shape (B, H, W), got {tuple(masks.shape)}')
    if masks.dtype != torch.bool:
        if not ((masks == 0) | (masks == 1)).all():
            raise ValueError(f'{name} must be boolean or hold only 0/1, got dtype {masks.dtype}')
        masks = masks.bool()
    return masks

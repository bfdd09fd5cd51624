"""Pseudo-label selectors: keep SAM's mask only when it agrees with the evidence."""
from typing import Optional

import numpy as np
import torch

from epsam.registry import PSEUDO_LABEL_SELECTORS

from .base import BaseSelector, BatchSelection, SelectionResult, ThresholdSelector
from .scores import ids_score, ids_scores, mask_iou, mask_ious


@PSEUDO_LABEL_SELECTORS.register_module()
class IDSSelector(ThresholdSelector):
    """EP-SAM's selection: keep when ``|CAM AND SAM| / (|SAM| + 1) >= threshold``.

    The score is the fraction of SAM's mask that the CAM mask confirms; the
    ``+ 1`` makes an empty SAM mask score 0, so it is always rejected (for any
    threshold > 0).

    Args:
        threshold: smallest IDS kept (EP-SAM: 0.9).
    """

    name = 'IDS'

    def __init__(self, threshold: float = 0.9) -> None:
        super().__init__(threshold)

    def score(self, sam_mask: np.ndarray, cam_mask: np.ndarray,
              predicted_iou: Optional[float]) -> float:
        return ids_score(sam_mask, cam_mask)

    def score_batch(self, sam_masks: torch.Tensor, cam_masks: torch.Tensor,
                    predicted_ious: Optional[torch.Tensor]) -> torch.Tensor:
        return ids_scores(sam_masks, cam_masks)


@PSEUDO_LABEL_SELECTORS.register_module()
class CAMIoUSelector(ThresholdSelector):
    """Keep when the IoU of SAM's mask with the CAM mask is at least ``threshold``.

    Two empty masks have IoU 0 and are rejected for any threshold > 0.

    Args:
        threshold: smallest IoU kept.
    """

    name = 'CAM IoU'

    def __init__(self, threshold: float = 0.5) -> None:
        super().__init__(threshold)

    def score(self, sam_mask: np.ndarray, cam_mask: np.ndarray,
              predicted_iou: Optional[float]) -> float:
        return mask_iou(sam_mask, cam_mask)

    def score_batch(self, sam_masks: torch.Tensor, cam_masks: torch.Tensor,
                    predicted_ious: Optional[torch.Tensor]) -> torch.Tensor:
        return mask_ious(sam_masks, cam_masks)


@PSEUDO_LABEL_SELECTORS.register_module()
class PredictedIoUSelector(ThresholdSelector):
    """Keep when SAM's own predicted IoU is at least ``threshold``.

    Needs ``predicted_iou`` (``predicted_ious`` when batched); the CAM mask is
    not used.

    Args:
        threshold: smallest predicted IoU kept (SAM's automatic mask
            generator uses 0.88).
    """

    name = 'predicted IoU'

    def __init__(self, threshold: float = 0.88) -> None:
        super().__init__(threshold)

    def score(self, sam_mask: np.ndarray, cam_mask: np.ndarray,
              predicted_iou: Optional[float]) -> float:
        if predicted_iou is None:
            raise ValueError('PredictedIoUSelector needs predicted_iou (SAM\'s IoU '
                             'prediction), got None')
        return predicted_iou

    def score_batch(self, sam_masks: torch.Tensor, cam_masks: torch.Tensor,
                    predicted_ious: Optional[torch.Tensor]) -> torch.Tensor:
        if predicted_ious is None:
            raise ValueError('PredictedIoUSelector.select_batch needs predicted_ious, got None')
        return predicted_ious


@PSEUDO_LABEL_SELECTORS.register_module()
class KeepAllSelector(BaseSelector):
    """Keep every SAM mask (score 1): the no-selection ablation."""

    def select(self, sam_mask: np.ndarray, cam_mask: np.ndarray,
               predicted_iou: Optional[float]) -> SelectionResult:
        return SelectionResult(keep=True, score=1.0, reason='keep all')

    def select_checked_batch(self, sam_masks: torch.Tensor, cam_masks: torch.Tensor,
                             predicted_ious: Optional[torch.Tensor]) -> BatchSelection:
        batch = sam_masks.shape[0]
        device = sam_masks.device
        return BatchSelection(
            keep=torch.ones(batch, dtype=torch.bool, device=device),
            scores=torch.ones(batch, dtype=torch.float64, device=device))

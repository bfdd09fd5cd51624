"""Pseudo-label selection (pipeline stage 2, EP-SAM step 5).

Selectors are registered in ``epsam.registry.PSEUDO_LABEL_SELECTORS`` and
share one call, ``selector(sam_mask, cam_mask, predicted_iou) ->
SelectionResult``, plus ``select_batch`` over torch tensors.
"""
from .base import BaseSelector, BatchSelection, SelectionResult, ThresholdSelector
from .scores import ids_score, ids_scores, mask_iou, mask_ious
from .selectors import CAMIoUSelector, IDSSelector, KeepAllSelector, PredictedIoUSelector

__all__ = [
    'BaseSelector', 'BatchSelection', 'CAMIoUSelector', 'IDSSelector', 'KeepAllSelector',
    'PredictedIoUSelector', 'SelectionResult', 'ThresholdSelector', 'ids_score', 'ids_scores',
    'mask_iou', 'mask_ious'
]

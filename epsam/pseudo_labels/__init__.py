"""Pseudo-label selection and generation (EP-SAM steps 5-6).

Selectors are registered in ``epsam.registry.PSEUDO_LABEL_SELECTORS`` and
share one call, ``selector(sam_mask, cam_mask, predicted_iou) ->
SelectionResult``, plus ``select_batch`` over torch tensors.
:class:`PseudoLabelGenerator` prompts SAM from the CAM stage's files (read
through :mod:`epsam.fileio.cam_store`), applies a selector and writes the
pseudo-label folder; :class:`ClassMapLabeller` is its multi-class counterpart
(one SAM mask per labelled class, selected and merged into a class map).
"""
from .base import BaseSelector, BatchSelection, SelectionResult, ThresholdSelector
from .class_map_labeller import (DEFAULT_MERGE, ClassItem, ClassMapLabeller, ClassMapResult,
                                 class_items_from_cam_dir)
from .generator import PseudoLabelGenerator, PseudoLabelReport
from .multiclass import RESOLVE_MODES, merge_class_masks
from .sam_inference import BatchedSamPredictor, SamPrediction
from .scores import ids_score, ids_scores, mask_iou, mask_ious
from .selectors import CAMIoUSelector, IDSSelector, KeepAllSelector, PredictedIoUSelector
from .writer import PseudoLabelFolder

__all__ = [
    'BaseSelector', 'BatchSelection', 'CAMIoUSelector', 'IDSSelector', 'KeepAllSelector',
    'PredictedIoUSelector', 'SelectionResult', 'ThresholdSelector', 'ids_score', 'ids_scores',
    'mask_iou', 'mask_ious', 'PseudoLabelGenerator', 'PseudoLabelReport', 'BatchedSamPredictor',
    'SamPrediction', 'PseudoLabelFolder', 'merge_class_masks', 'RESOLVE_MODES', 'ClassItem',
    'ClassMapLabeller', 'ClassMapResult', 'class_items_from_cam_dir', 'DEFAULT_MERGE'
]

"""Pseudo-label selection and generation (pipeline stage 2, EP-SAM steps 5-6).

Selectors are registered in ``epsam.registry.PSEUDO_LABEL_SELECTORS`` and
share one call, ``selector(sam_mask, cam_mask, predicted_iou) ->
SelectionResult``, plus ``select_batch`` over torch tensors.
:class:`PseudoLabelGenerator` prompts SAM from the CAM stage's files, applies a
selector and writes the pseudo-label folder; :mod:`.cam_store` reads and
writes the CAM stage's files.

The generator's names are imported on first use (PEP 562), so the data
pipeline, which only needs :mod:`.cam_store`, does not pull in SAM and
``mmseg.models``.
"""
import importlib

from .base import BaseSelector, BatchSelection, SelectionResult, ThresholdSelector
from .cam_store import CamFileError, CamRecord, load_cam, load_label_png, save_cam, save_label_png
from .items import PseudoLabelItem, item_rng, items_from_cam_dir
from .multiclass import RESOLVE_MODES, merge_class_masks
from .scores import ids_score, ids_scores, mask_iou, mask_ious
from .selectors import CAMIoUSelector, IDSSelector, KeepAllSelector, PredictedIoUSelector
from .writer import PseudoLabelFolder

__all__ = [
    'BaseSelector', 'BatchSelection', 'CAMIoUSelector', 'IDSSelector', 'KeepAllSelector',
    'PredictedIoUSelector', 'SelectionResult', 'ThresholdSelector', 'ids_score', 'ids_scores',
    'mask_iou', 'mask_ious', 'CamFileError', 'CamRecord', 'save_cam', 'load_cam',
    'save_label_png', 'load_label_png', 'PseudoLabelGenerator', 'PseudoLabelReport',
    'PseudoLabelItem', 'item_rng', 'items_from_cam_dir', 'BatchedSamPredictor', 'SamPrediction',
    'PseudoLabelFolder', 'merge_class_masks', 'RESOLVE_MODES'
]

_LAZY = {'PseudoLabelGenerator': '.generator', 'PseudoLabelReport': '.generator',
         'BatchedSamPredictor': '.sam_inference', 'SamPrediction': '.sam_inference'}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')

"""epsam's registered metrics and the pure maths behind them."""
from .functional import (confusion_matrix, dice_from_confusion, dice_iou_per_image,
                         frequency_weighted_iou, iou_from_confusion, pixel_accuracy,
                         smoothed_dice_iou)
from .patch_classification_metric import PatchClassificationMetric
from .per_image_dice import PerImageDiceMetric
from .wsss_iou import PROTOCOLS, WSSSIoUMetric

__all__ = [
    'PatchClassificationMetric', 'PerImageDiceMetric', 'WSSSIoUMetric', 'PROTOCOLS',
    'confusion_matrix', 'dice_from_confusion', 'dice_iou_per_image', 'frequency_weighted_iou',
    'iou_from_confusion', 'pixel_accuracy', 'smoothed_dice_iou'
]

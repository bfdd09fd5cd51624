"""Tuning SAM on pseudo-labels: the mmengine model and its losses."""
from .losses import BCEIoULoss, DiceIoULoss, soft_dice_loss, soft_iou_loss
from .tuning_model import SamTuningModel

__all__ = ['BCEIoULoss', 'DiceIoULoss', 'soft_dice_loss', 'soft_iou_loss', 'SamTuningModel']

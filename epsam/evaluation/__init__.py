"""Metrics: per-image Dice/IoU and the WSSS mIoU protocols."""
import mmseg.evaluation  # noqa: F401  (fills the parent registries)

from .metrics import PerImageDiceMetric, WSSSIoUMetric

__all__ = ['PerImageDiceMetric', 'WSSSIoUMetric']

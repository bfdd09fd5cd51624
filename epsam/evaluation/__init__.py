"""Metrics: per-image Dice/IoU and the WSSS mIoU protocols."""
import mmseg.evaluation  # noqa: F401  (fills the parent registries)

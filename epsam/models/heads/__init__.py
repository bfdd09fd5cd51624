"""Classification heads: the CAM head (GAP + linear, BCE)."""
from .cam_head import CAMHead

__all__ = ['CAMHead']

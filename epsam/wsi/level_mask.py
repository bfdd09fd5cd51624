"""A binary mask covering a whole slide at reduced resolution, and area fractions of boxes."""
from dataclasses import dataclass
from typing import Tuple

import cv2
import numpy as np

__all__ = ['LevelMask']


@dataclass
class LevelMask:
    """A whole-slide binary mask at a reduced resolution.

    Args:
        mask: ``(h, w)`` bool array covering the whole slide.
        scale: ``(sx, sy)`` level-0 pixels per mask pixel along x and y.
        level: The pyramid level the mask was computed at (-1 when resized).
    """

    mask: np.ndarray
    scale: Tuple[float, float]
    level: int = -1

    def __post_init__(self) -> None:
        self.mask = np.asarray(self.mask).astype(bool)
        if self.mask.ndim != 2:
            raise ValueError(f'LevelMask.mask must be (h, w), got shape {self.mask.shape}')
        self.scale = (float(self.scale[0]), float(self.scale[1]))
        padded = np.zeros((self.mask.shape[0] + 1, self.mask.shape[1] + 1), np.int64)
        padded[1:, 1:] = self.mask.cumsum(0).cumsum(1)
        self._integral = padded

    @property
    def is_empty(self) -> bool:
        """True when no pixel is set."""
        return not self.mask.any()

    @property
    def area_fraction(self) -> float:
        """Fraction of the slide that is set."""
        return float(self.mask.mean()) if self.mask.size else 0.0

    def fractions(self, boxes: np.ndarray) -> np.ndarray:
        """Fraction of each level-0 box covered by the mask.

        Box edges are rounded to mask pixels (exact when they fall on mask
        pixel edges); parts of a box outside the slide count as uncovered.

        Args:
            boxes: ``(N, 4)`` level-0 boxes ``(x, y, width, height)``.

        Returns:
            np.ndarray: ``(N,)`` float64 fractions in [0, 1].
        """
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        sx, sy = self.scale
        left = np.rint(boxes[:, 0] / sx).astype(np.int64)
        top = np.rint(boxes[:, 1] / sy).astype(np.int64)
        right = np.maximum(np.rint((boxes[:, 0] + boxes[:, 2]) / sx).astype(np.int64), left + 1)
        bottom = np.maximum(np.rint((boxes[:, 1] + boxes[:, 3]) / sy).astype(np.int64), top + 1)
        area = (right - left) * (bottom - top)
        h, w = self.mask.shape
        cl, cr = np.clip(left, 0, w), np.clip(right, 0, w)
        ct, cb = np.clip(top, 0, h), np.clip(bottom, 0, h)
        table = self._integral
        inside = table[cb, cr] - table[ct, cr] - table[cb, cl] + table[ct, cl]
        return inside / area

    def fraction(self, x: float, y: float, width: float, height: float) -> float:
        """Fraction of one level-0 box ``(x, y, width, height)`` covered by the mask."""
        return float(self.fractions(np.array([[x, y, width, height]]))[0])

    def on_grid(self, width: int, height: int) -> np.ndarray:
        """The mask resampled to a ``width`` x ``height`` grid over the whole slide.

        Linear interpolation then a 0.5 cut, so the edges of a coarse mask
        are not blocky on a finer grid.

        Returns:
            np.ndarray: ``(height, width)`` bool.
        """
        resized = cv2.resize(self.mask.astype(np.float32), (int(width), int(height)),
                             interpolation=cv2.INTER_LINEAR)
        return resized >= 0.5

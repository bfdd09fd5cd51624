"""Stitch per-tile probability maps into one slide-level map, blending overlaps.

Each tile's map is resized to the tile's footprint on the output grid (a
chosen downsample of level 0, usually a pyramid level) and accumulated with a
smooth weight window; the result is the weighted average, so overlapping
tiles fade into each other instead of leaving seams. Pixels no tile covered
are 0 and are reported by :attr:`SlideStitcher.coverage`.
"""
import math
from typing import Optional, Tuple

import cv2
import numpy as np

__all__ = ['blend_window', 'SlideStitcher', 'WINDOWS']

WINDOWS = ('hann', 'uniform')


def blend_window(height: int, width: int, kind: str = 'hann',
                 min_weight: float = 1e-3) -> np.ndarray:
    """Weights of a tile's pixels when overlapping tiles are averaged.

    Args:
        height, width: Window size in pixels.
        kind: ``'hann'`` (squared sine, largest in the centre; positive at the
            border pixels because samples sit at pixel centres) or ``'uniform'``.
        min_weight: Floor of the weights, so every covered pixel counts.

    Returns:
        np.ndarray: ``(height, width)`` float64 weights in ``[min_weight, 1]``.
    """
    if kind == 'uniform':
        return np.ones((height, width))
    if kind != 'hann':
        raise ValueError(f'unknown blending window {kind!r}; use one of {WINDOWS}')

    def one_d(n: int) -> np.ndarray:
        return np.sin(np.pi * (np.arange(n) + 0.5) / n) ** 2

    return np.maximum(np.outer(one_d(height), one_d(width)), min_weight)


class SlideStitcher:
    """Weighted-average accumulator of tile maps over a slide.

    Args:
        slide_size: ``(width, height)`` of level 0.
        downsample: Level-0 pixels per output pixel (e.g. a level's downsample).
        output_size: ``(width, height)`` of the output map; None =
            ``ceil(slide_size / downsample)``.
        window: Blending window, see :func:`blend_window`.
    """

    def __init__(self, slide_size: Tuple[int, int], downsample: float,
                 output_size: Optional[Tuple[int, int]] = None, window: str = 'hann') -> None:
        if not downsample > 0:
            raise ValueError(f'downsample must be positive, got {downsample}')
        if window not in WINDOWS:
            raise ValueError(f'unknown blending window {window!r}; use one of {WINDOWS}')
        self.downsample = float(downsample)
        if output_size is None:
            output_size = tuple(math.ceil(s / self.downsample) for s in slide_size)
        self.width, self.height = (int(s) for s in output_size)
        self.window = window
        self._sum: Optional[np.ndarray] = None  # allocated by the first add()
        self._weight: Optional[np.ndarray] = None
        self.tiles_added = 0

    def _accumulators(self) -> Tuple[np.ndarray, np.ndarray]:
        if self._sum is None:
            self._sum = np.zeros((self.height, self.width))
            self._weight = np.zeros((self.height, self.width))
        return self._sum, self._weight

    def box(self, x: float, y: float, extent: float) -> Tuple[int, int, int, int]:
        """Output-grid box ``(left, top, right, bottom)`` of a tile (may reach past the map)."""
        scale = self.downsample
        left, top = int(round(x / scale)), int(round(y / scale))
        right = max(left + 1, int(round((x + extent) / scale)))
        bottom = max(top + 1, int(round((y + extent) / scale)))
        return left, top, right, bottom

    def resize_to_box(self, prob: np.ndarray, x: float, y: float, extent: float) -> np.ndarray:
        """A tile map ``(h, w)`` resized to its output box (area-averaged when shrinking)."""
        prob = np.asarray(prob, dtype=np.float32)
        if prob.ndim != 2:
            raise ValueError(f'a tile probability map must be (H, W), got shape {prob.shape}')
        left, top, right, bottom = self.box(x, y, extent)
        size = (right - left, bottom - top)
        if (prob.shape[1], prob.shape[0]) == size:
            return prob
        shrinking = size[0] < prob.shape[1]
        return cv2.resize(prob, size, interpolation=cv2.INTER_AREA if shrinking
                          else cv2.INTER_LINEAR)

    def add(self, prob: np.ndarray, x: float, y: float, extent: float) -> None:
        """Accumulate one tile.

        Args:
            prob: ``(h, w)`` probability map of the tile (any size; resized to
                the tile's output box unless it already has that size).
            x, y: Tile's top-left in level-0 pixels.
            extent: Tile side in level-0 pixels.
        """
        resized = self.resize_to_box(prob, x, y, extent)
        left, top, right, bottom = self.box(x, y, extent)
        weights = blend_window(bottom - top, right - left, self.window)
        c0, r0 = max(left, 0), max(top, 0)
        c1, r1 = min(right, self.width), min(bottom, self.height)
        if c1 <= c0 or r1 <= r0:
            return
        inner = (slice(r0 - top, r1 - top), slice(c0 - left, c1 - left))
        total, weight = self._accumulators()
        total[r0:r1, c0:c1] += weights[inner] * resized[inner]
        weight[r0:r1, c0:c1] += weights[inner]
        self.tiles_added += 1

    @property
    def coverage(self) -> np.ndarray:
        """``(H, W)`` bool: output pixels at least one tile covered."""
        return self._accumulators()[1] > 0

    def probability(self) -> np.ndarray:
        """``(H, W)`` float32 weighted-average probability (0 where nothing was added)."""
        total, weight = self._accumulators()
        out = np.zeros_like(total)
        np.divide(total, weight, out=out, where=weight > 0)
        return out.astype(np.float32)

    def label_mask(self, threshold: float = 0.5) -> np.ndarray:
        """``(H, W)`` uint8 label mask: 1 where the probability is at least ``threshold``."""
        prob = self.probability()
        return ((prob >= threshold) & self.coverage).astype(np.uint8)

"""Positive point prompts at the strongest local maxima of a CAM."""
from typing import Optional

import cv2
import numpy as np

from epsam.registry import PROMPT_GENERATORS

from .base import BasePromptGenerator, check_positive_int
from .structures import POSITIVE, Prompts


@PROMPT_GENERATORS.register_module()
class TopKPeakPrompt(BasePromptGenerator):
    """The ``num_peaks`` highest local maxima of the CAM, kept apart by NMS.

    A pixel is a candidate when it equals the maximum of the CAM over the
    ``(2 * min_distance + 1)`` square around it and its value exceeds
    ``min_value``. Candidates are visited from the highest value down (ties:
    top row first, then left column) and kept unless a kept peak lies closer
    than ``min_distance`` pixels (Euclidean), which also thins plateaus. The
    result is deterministic; ``rng`` is ignored. No candidate gives empty
    prompts.

    Args:
        num_peaks: most peaks returned.
        min_distance: smallest distance in pixels between two peaks.
        min_value: a peak's CAM value must be strictly greater than this.
        within_mask: only look for peaks inside ``mask`` (pixels outside it
            count as lower than any CAM value); needs a mask when True.
    """

    def __init__(self, num_peaks: int = 5, min_distance: int = 16, min_value: float = 0.0,
                 within_mask: bool = True) -> None:
        self.num_peaks = check_positive_int(num_peaks, 'num_peaks')
        self.min_distance = check_positive_int(min_distance, 'min_distance')
        if not 0.0 <= float(min_value) < 1.0:
            raise ValueError(f'min_value must be in [0, 1), got {min_value!r}')
        self.min_value = float(min_value)
        self.within_mask = bool(within_mask)
        self.requires_mask = self.within_mask

    def generate(self, cam: np.ndarray, mask: Optional[np.ndarray],
                 rng: Optional[np.random.Generator]) -> Prompts:
        score = cam.astype(np.float32)
        if self.within_mask:
            score = np.where(mask, score, np.float32(-1.0))
        size = 2 * self.min_distance + 1
        local_max = cv2.dilate(score, np.ones((size, size), np.uint8))
        rows, cols = np.nonzero((score >= local_max) & (score > self.min_value))
        values = score[rows, cols]
        order = np.lexsort((cols, rows, -values))
        keep = _greedy_nms(cols[order], rows[order], self.min_distance, self.num_peaks)
        coords = np.stack([cols[order][keep], rows[order][keep]], axis=1).astype(np.float64)
        return Prompts(image_size=cam.shape, point_coords=coords,
                       point_labels=np.full(len(coords), POSITIVE, dtype=np.int64))


def _greedy_nms(xs: np.ndarray, ys: np.ndarray, min_distance: float,
                max_kept: int) -> np.ndarray:
    """Indices of points kept by greedy NMS, visiting points in the given order.

    Loops once per kept point (at most ``max_kept`` times); each pass is
    vectorised over the remaining candidates.
    """
    remaining = np.arange(len(xs))
    kept = []
    while len(remaining) and len(kept) < max_kept:
        best = remaining[0]
        kept.append(best)
        dist2 = (xs[remaining] - xs[best]) ** 2 + (ys[remaining] - ys[best]) ** 2
        remaining = remaining[dist2 >= min_distance ** 2]
    return np.asarray(kept, dtype=np.int64)

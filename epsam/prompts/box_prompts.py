"""Box prompts: one per connected component of the CAM mask, or the whole image.

Boxes are XYXY in pixel-index coordinates with inclusive corners: a component
covering columns 30..49 and rows 10..19 gives the box ``(30, 10, 49, 19)``,
the same convention as ``segment_anything.utils.amg.batched_mask_to_box``.
"""
from typing import Optional

import cv2
import numpy as np

from epsam.registry import PROMPT_GENERATORS

from .base import BasePromptGenerator, check_positive_int
from .structures import Prompts


@PROMPT_GENERATORS.register_module()
class ComponentBoxPrompt(BasePromptGenerator):
    """One box around each connected component of the mask.

    Components come from ``cv2.connectedComponentsWithStats``; those smaller
    than ``min_area`` pixels are dropped, the rest are sorted by area (largest
    first, ties by position) and the first ``max_boxes`` kept. Each box grows
    by ``margin`` pixels on every side, clipped to the image. An empty mask (or
    one with only small components) gives empty prompts. Deterministic; ``rng``
    is ignored.

    Args:
        min_area: smallest component area, in pixels, that gets a box.
        margin: pixels added on each side of a box.
        max_boxes: most boxes returned, or ``None`` for all.
        connectivity: 4 or 8 (pixel neighbourhood of a component).
    """

    def __init__(self, min_area: int = 1, margin: int = 0, max_boxes: Optional[int] = None,
                 connectivity: int = 8) -> None:
        self.min_area = check_positive_int(min_area, 'min_area')
        self.margin = check_positive_int(margin, 'margin', allow_zero=True)
        self.max_boxes = None if max_boxes is None else check_positive_int(
            max_boxes, 'max_boxes')
        if connectivity not in (4, 8):
            raise ValueError(f'connectivity must be 4 or 8, got {connectivity!r}')
        self.connectivity = connectivity

    def generate(self, cam: np.ndarray, mask: np.ndarray,
                 rng: Optional[np.random.Generator]) -> Prompts:
        height, width = mask.shape
        _, _, stats, _ = cv2.connectedComponentsWithStats(
            mask.astype(np.uint8), connectivity=self.connectivity)
        stats = stats[1:]  # row 0 is the background
        stats = stats[stats[:, cv2.CC_STAT_AREA] >= self.min_area]
        left, top = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
        order = np.lexsort((left, top, -stats[:, cv2.CC_STAT_AREA]))[:self.max_boxes]
        stats = stats[order]
        x0 = stats[:, cv2.CC_STAT_LEFT]
        y0 = stats[:, cv2.CC_STAT_TOP]
        x1 = x0 + stats[:, cv2.CC_STAT_WIDTH] - 1
        y1 = y0 + stats[:, cv2.CC_STAT_HEIGHT] - 1
        boxes = np.stack([
            np.maximum(x0 - self.margin, 0),
            np.maximum(y0 - self.margin, 0),
            np.minimum(x1 + self.margin, width - 1),
            np.minimum(y1 + self.margin, height - 1),
        ], axis=1).astype(np.float64)
        return Prompts(image_size=mask.shape, boxes=boxes)


@PROMPT_GENERATORS.register_module()
class FullImageBoxPrompt(BasePromptGenerator):
    """A single box over the whole image, ``(0, 0, W - 1, H - 1)``.

    CAD trains its adapter with this prompt. Needs no mask; ``rng`` is ignored.
    """

    requires_mask = False

    def generate(self, cam: np.ndarray, mask: Optional[np.ndarray],
                 rng: Optional[np.random.Generator]) -> Prompts:
        height, width = cam.shape
        return Prompts(image_size=cam.shape,
                       boxes=np.array([[0, 0, width - 1, height - 1]], dtype=np.float64))

"""Tissue detection: Otsu on HSV saturation at a low-resolution level (EP-SAM's recipe).

Steps: read a whole low-resolution level (or the slide's thumbnail when even
the smallest level is large), take the HSV saturation, threshold it with
Otsu (never below ``min_threshold``, so an empty slide stays empty), close
small gaps and median-filter the mask.
"""
from typing import Optional

import cv2
import numpy as np

from .export import write_png
from .level_mask import LevelMask
from .reader import BaseSlideReader

__all__ = ['TissueDetector', 'detect_tissue', 'tissue_overlay', 'save_tissue_thumbnail']


class TissueDetector:
    """Binary tissue mask of a slide.

    Args:
        level: Pyramid level to work at; None picks the coarsest level whose
            downsample is at most ``target_downsample``.
        target_downsample: Wanted level-0 pixels per mask pixel when ``level`` is None.
        max_size: Longest side of the working image; bigger levels are shrunk
            (the mask then has a non-level scale).
        min_threshold: Lowest saturation threshold (0-255) Otsu may pick;
            glass and white background have a saturation near 0.
        closing_size: Side in mask pixels of the square closing kernel (0 = none).
        median_size: Aperture of the median filter (odd; 0 or 1 = none).
    """

    def __init__(self,
                 level: Optional[int] = None,
                 target_downsample: float = 32.0,
                 max_size: int = 4096,
                 min_threshold: int = 15,
                 closing_size: int = 7,
                 median_size: int = 7) -> None:
        if median_size > 1 and median_size % 2 == 0:
            raise ValueError(f'TissueDetector: median_size must be odd, got {median_size}')
        if not 0 <= min_threshold <= 255:
            raise ValueError(f'TissueDetector: min_threshold is a saturation in 0..255, '
                             f'got {min_threshold}')
        self.level = level
        self.target_downsample = float(target_downsample)
        self.max_size = int(max_size)
        self.min_threshold = int(min_threshold)
        self.closing_size = int(closing_size)
        self.median_size = int(median_size)

    def working_image(self, reader: BaseSlideReader) -> tuple:
        """The RGB image the mask is computed on, and its level (-1 when shrunk)."""
        level = reader.level_for_downsample(self.target_downsample) if self.level is None \
            else reader.check_level(self.level)
        width, height = reader.level_dimensions[level]
        if max(width, height) > self.max_size:
            return reader.thumbnail(self.max_size), -1
        return reader.read_level(level), level

    def mask_from_rgb(self, image: np.ndarray) -> np.ndarray:
        """``(h, w)`` bool tissue mask of an RGB uint8 image."""
        saturation = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2HSV)[..., 1]
        otsu, _ = cv2.threshold(saturation, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        mask = (saturation > max(otsu, self.min_threshold)).astype(np.uint8)
        if self.closing_size > 0:
            kernel = np.ones((self.closing_size, self.closing_size), np.uint8)
            mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel)
        if self.median_size > 1:
            mask = cv2.medianBlur(mask, self.median_size)
        return mask.astype(bool)

    def __call__(self, reader: BaseSlideReader) -> LevelMask:
        """Tissue mask of ``reader``'s slide (empty when the slide has no tissue)."""
        image, level = self.working_image(reader)
        width, height = reader.dimensions
        scale = (width / image.shape[1], height / image.shape[0])
        return LevelMask(self.mask_from_rgb(image), scale, level)


def detect_tissue(reader: BaseSlideReader, **kwargs) -> LevelMask:
    """Shortcut for ``TissueDetector(**kwargs)(reader)``."""
    return TissueDetector(**kwargs)(reader)


def tissue_overlay(thumbnail: np.ndarray, tissue: LevelMask,
                   color=(0, 200, 0), alpha: float = 0.3) -> np.ndarray:
    """The thumbnail with the tissue tinted and outlined.

    Args:
        thumbnail: RGB uint8 ``(h, w, 3)`` picture of the whole slide.
        tissue: The tissue mask (resized to the thumbnail).
        color: RGB of the tint and outline.
        alpha: Opacity of the tint.

    Returns:
        np.ndarray: RGB uint8 of the thumbnail's size.
    """
    height, width = thumbnail.shape[:2]
    mask = cv2.resize(tissue.mask.astype(np.uint8), (width, height),
                      interpolation=cv2.INTER_NEAREST).astype(bool)
    out = thumbnail.astype(np.float32)
    out[mask] = (1 - alpha) * out[mask] + alpha * np.asarray(color, np.float32)
    out = np.ascontiguousarray(np.rint(out).astype(np.uint8))
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(out, contours, -1, tuple(int(c) for c in color), 1)
    return out


def save_tissue_thumbnail(path: str, reader: BaseSlideReader, tissue: LevelMask,
                          max_size: int = 1024) -> None:
    """Write the slide's thumbnail with the tissue mask drawn on it as a PNG (atomically)."""
    write_png(path, tissue_overlay(reader.thumbnail(max_size), tissue))

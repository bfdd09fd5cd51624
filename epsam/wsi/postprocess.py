"""Clean a thresholded tumour mask before it is written: tissue only, no speckles, no pinholes.

Glass is never tumour: the mask is intersected with the tool's own tissue
mask. Holes smaller than ``min_hole_um2`` are filled and regions smaller
than ``min_area_um2`` removed (``cv2.connectedComponentsWithStats``, as
scikit-image's ``remove_small_holes`` / ``remove_small_objects``). Areas are
in µm², turned into pixels with the slide's microns per pixel.
"""
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from .errors import WSIError

__all__ = ['MaskCleaning', 'remove_small_regions', 'DEFAULT_MIN_AREA_UM2',
           'DEFAULT_MIN_HOLE_UM2']

#: Smallest tumour region kept: 0.01 mm² (a disc ~113 µm across), below the
#: 0.2 mm of a micrometastasis, above single cells and stain speckles.
DEFAULT_MIN_AREA_UM2 = 10000.0
#: Largest hole filled inside a tumour region (same scale).
DEFAULT_MIN_HOLE_UM2 = 10000.0


def remove_small_regions(binary: np.ndarray, min_pixels: float,
                         connectivity: int = 8) -> np.ndarray:
    """``binary`` without its connected regions of fewer than ``min_pixels`` pixels (bool)."""
    binary = np.asarray(binary, bool)
    if min_pixels <= 0 or not binary.any():
        return binary.copy()
    _, labels, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8),
                                                           connectivity=connectivity)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_pixels
    keep[0] = False  # the background label
    return keep[labels]


@dataclass(frozen=True)
class MaskCleaning:
    """How a thresholded tumour mask is cleaned.

    Args:
        min_area_um2: Remove tumour regions smaller than this (µm²; 0 = keep all).
        min_hole_um2: Fill holes in tumour regions smaller than this (µm²; 0 = none).
    """

    min_area_um2: float = DEFAULT_MIN_AREA_UM2
    min_hole_um2: float = DEFAULT_MIN_HOLE_UM2

    def __post_init__(self) -> None:
        if self.min_area_um2 < 0 or self.min_hole_um2 < 0:
            raise ValueError(f'--min-area and --min-hole are areas in µm² >= 0, got '
                             f'{self.min_area_um2} and {self.min_hole_um2}')

    def check_mpp(self, filename: str, mpp: Optional[float]) -> None:
        """Raise :class:`WSIError` when areas in µm² are asked for a slide without an mpp."""
        if mpp is None and (self.min_area_um2 > 0 or self.min_hole_um2 > 0):
            raise WSIError(filename, 'has no microns-per-pixel metadata, so --min-area / '
                           '--min-hole (µm²) cannot be turned into pixels: pass --slide-mpp '
                           'MICRONS_PER_PIXEL, or --min-area 0 --min-hole 0 to keep every region')

    def __call__(self, tumour: np.ndarray, mpp: Optional[float],
                 tissue: Optional[np.ndarray] = None) -> tuple:
        """Clean a mask.

        Args:
            tumour: ``(H, W)`` bool thresholded prediction.
            mpp: Microns per pixel of ``tumour`` (None only when both areas are 0).
            tissue: ``(H, W)`` bool tissue mask on the same grid, or None.

        Returns:
            tuple: the cleaned bool mask and a dict of changed pixel counts
            (``outside_tissue``, ``holes_filled``, ``small_regions``).
        """
        self.check_mpp('the mask', mpp)
        pixel_um2 = (mpp or 1.0) ** 2
        tumour = np.asarray(tumour, bool)
        filled = ~remove_small_regions(~tumour, self.min_hole_um2 / pixel_um2, connectivity=4)
        inside = filled if tissue is None else filled & tissue
        cleaned = remove_small_regions(inside, self.min_area_um2 / pixel_um2)
        changes = dict(outside_tissue=int((filled & ~inside).sum()),
                       holes_filled=int((filled & ~tumour).sum()),
                       small_regions=int((inside & ~cleaned).sum()))
        return cleaned, changes

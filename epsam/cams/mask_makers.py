"""Binary initial masks from CAMs: percentile, fixed and Otsu thresholds + opening."""
from typing import Optional, Union

import cv2
import numpy as np
import torch

from epsam.registry import MASK_MAKERS

ArrayLike = Union[np.ndarray, torch.Tensor]


def to_numpy_maps(cam: ArrayLike, owner: str) -> np.ndarray:
    """A (H, W) or (K, H, W) CAM as a float32 numpy array, with shape/value checks."""
    if isinstance(cam, torch.Tensor):
        cam = cam.detach().cpu().float().numpy()
    cam = np.asarray(cam, dtype=np.float32)
    if cam.ndim not in (2, 3):
        raise ValueError(f'{owner}: CAM must be (H, W) or (K, H, W), got shape {cam.shape}')
    if not np.isfinite(cam).all():
        raise ValueError(f'{owner}: CAM contains NaN or infinite values')
    return cam


class BinaryMaskMaker:
    """Base class: threshold each map, then a morphological opening.

    Subclasses implement :meth:`threshold_map`. A map with no positive
    value gives an empty mask (check ``mask.any()`` to count them).

    Args:
        opening_kernel: side in pixels of the square opening kernel; 0 or 1
            for no opening. EP-SAM: 21 at 512 px (Camelyon16).
        kernel_reference_size: if set, ``opening_kernel`` is meant for images
            of this side; the kernel is scaled by ``min(H, W) / reference``
            and rounded to the nearest odd size (e.g. 21 at 512 -> 11 at 256).
    """

    def __init__(self, opening_kernel: int = 0,
                 kernel_reference_size: Optional[int] = None) -> None:
        if opening_kernel < 0:
            raise ValueError(f'{type(self).__name__}: opening_kernel must be >= 0, '
                             f'got {opening_kernel}')
        if kernel_reference_size is not None and kernel_reference_size < 1:
            raise ValueError(f'{type(self).__name__}: kernel_reference_size must be >= 1, '
                             f'got {kernel_reference_size}')
        self.opening_kernel = int(opening_kernel)
        self.kernel_reference_size = kernel_reference_size

    def kernel_size(self, height: int, width: int) -> int:
        """Opening kernel side for an image of ``height`` x ``width`` pixels."""
        size = self.opening_kernel
        if self.kernel_reference_size is not None and size > 1:
            scaled = size * min(height, width) / self.kernel_reference_size
            size = 2 * int(scaled // 2) + 1  # nearest odd integer
        return max(size, 1)

    def threshold_map(self, cam: np.ndarray) -> np.ndarray:
        """Bool (H, W) mask of one (H, W) map, before the opening."""
        raise NotImplementedError

    def open(self, mask: np.ndarray) -> np.ndarray:
        """Morphological opening of a bool (H, W) mask."""
        size = self.kernel_size(*mask.shape)
        if size <= 1 or not mask.any():
            return mask
        kernel = np.ones((size, size), np.uint8)
        opened = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, kernel,
                                  borderType=cv2.BORDER_REPLICATE)
        return opened.astype(bool)

    def __call__(self, cam: ArrayLike) -> np.ndarray:
        """Masks of one map (H, W) or of K maps (K, H, W), in [0, 1].

        Returns:
            np.ndarray: bool array of the same shape.
        """
        maps = to_numpy_maps(cam, type(self).__name__)
        if maps.ndim == 2:
            return self.open(self.threshold_map(maps))
        return np.stack([self.open(self.threshold_map(m)) for m in maps])


@MASK_MAKERS.register_module()
class PercentileMaskMaker(BinaryMaskMaker):
    """Keep pixels at or above the ``percentile``-th percentile of the non-zero CAM values.

    EP-SAM: percentile 10 (Camelyon16) or 30 (Camelyon17), opening 21x21 at
    512 px. Zero pixels are never kept.

    Args:
        percentile: in [0, 100].
        opening_kernel, kernel_reference_size: see :class:`BinaryMaskMaker`.
    """

    def __init__(self, percentile: float = 10.0, opening_kernel: int = 0,
                 kernel_reference_size: Optional[int] = None) -> None:
        super().__init__(opening_kernel, kernel_reference_size)
        if not 0.0 <= percentile <= 100.0:
            raise ValueError(f'PercentileMaskMaker: percentile must be in [0, 100], '
                             f'got {percentile}')
        self.percentile = float(percentile)

    def threshold_map(self, cam: np.ndarray) -> np.ndarray:
        positive = cam > 0
        if not positive.any():
            return positive
        threshold = np.percentile(cam[positive], self.percentile)
        return positive & (cam >= threshold)


@MASK_MAKERS.register_module()
class FixedThresholdMaskMaker(BinaryMaskMaker):
    """Keep pixels whose CAM is at or above ``threshold`` (and above 0).

    Args:
        threshold: in [0, 1].
        opening_kernel, kernel_reference_size: see :class:`BinaryMaskMaker`.
    """

    def __init__(self, threshold: float = 0.5, opening_kernel: int = 0,
                 kernel_reference_size: Optional[int] = None) -> None:
        super().__init__(opening_kernel, kernel_reference_size)
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f'FixedThresholdMaskMaker: threshold must be in [0, 1], '
                             f'got {threshold}')
        self.threshold = float(threshold)

    def threshold_map(self, cam: np.ndarray) -> np.ndarray:
        return (cam > 0) & (cam >= self.threshold)


def otsu_threshold(values: np.ndarray, bins: int = 256) -> Optional[float]:
    """Otsu's threshold of values in [0, 1] over a ``bins``-bin histogram.

    Returns the bin edge that maximises the between-class variance (values
    ``>=`` it form the upper class), or None when all values fall in one bin.
    """
    hist, edges = np.histogram(np.clip(values, 0.0, 1.0), bins=bins, range=(0.0, 1.0))
    hist = hist.astype(np.float64)
    centers = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(hist)[:-1]  # pixels in bins [0, t], t = 0..bins-2
    weight_high = hist.sum() - weight_low
    valid = (weight_low > 0) & (weight_high > 0)
    if not valid.any():
        return None
    cum_mass = np.cumsum(hist * centers)[:-1]
    mean_low = np.divide(cum_mass, weight_low, out=np.zeros_like(cum_mass), where=valid)
    mean_high = np.divide(cum_mass[-1] + hist[-1] * centers[-1] - cum_mass, weight_high,
                          out=np.zeros_like(cum_mass), where=valid)
    between = np.where(valid, weight_low * weight_high * (mean_low - mean_high) ** 2, -1.0)
    return float(edges[int(np.argmax(between)) + 1])


@MASK_MAKERS.register_module()
class OtsuMaskMaker(BinaryMaskMaker):
    """Keep pixels at or above Otsu's threshold of the map (and above 0).

    A map whose values all fall in one histogram bin gives an empty mask.

    Args:
        bins: histogram bins over [0, 1].
        opening_kernel, kernel_reference_size: see :class:`BinaryMaskMaker`.
    """

    def __init__(self, bins: int = 256, opening_kernel: int = 0,
                 kernel_reference_size: Optional[int] = None) -> None:
        super().__init__(opening_kernel, kernel_reference_size)
        if bins < 2:
            raise ValueError(f'OtsuMaskMaker: bins must be >= 2, got {bins}')
        self.bins = int(bins)

    def threshold_map(self, cam: np.ndarray) -> np.ndarray:
        threshold = otsu_threshold(cam.ravel(), self.bins)
        if threshold is None:
            return np.zeros(cam.shape, dtype=bool)
        return (cam > 0) & (cam >= threshold)

"""Random tissue layouts (label maps) for synthetic patches.

The maps use the painter's class indices (``TISSUE_CLASSES``: 0 tumour,
1 stroma, 2 lymphocytes, 3 necrosis, 4 background) and can be passed straight
to :func:`render_patch`.
"""
from typing import Optional, Tuple

import numpy as np

from .he_texture import BACKGROUND, LYMPHOCYTES, STROMA, TUMOUR, smooth_field

__all__ = ['blob_mask', 'camelyon_class_map', 'bcss_class_map', 'class_presence']

_NUM_TISSUE = 4  # TUM, STR, LYM, NEC: the classes an image-level label names


def blob_mask(rng: np.random.Generator,
              shape: Tuple[int, int],
              fraction: float,
              *,
              num_blobs: int = 1,
              blob_size: Tuple[float, float] = (0.15, 0.35),
              wobble: float = 0.15) -> np.ndarray:
    """One or a few smooth blobs covering exactly ``round(fraction * H * W)`` pixels.

    A sum of Gaussian bumps plus a low-frequency random field (which bends the
    outlines) is thresholded at the value that keeps the wanted pixel count.

    Args:
        rng: Random generator.
        shape: (H, W) in pixels.
        fraction: Wanted foreground fraction in [0, 1].
        num_blobs: Number of Gaussian bumps (blobs may merge).
        blob_size: Range of the bump standard deviation, as a fraction of the
            patch side.
        wobble: Amplitude of the random field relative to a bump's height.

    Returns:
        np.ndarray: bool array of shape (H, W).
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f'blob_mask: fraction must lie in [0, 1], got {fraction}')
    height, width = shape
    side = float(max(height, width))
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    field = wobble * smooth_field(rng, shape, side / 4.0)
    for _ in range(num_blobs):
        cy, cx = rng.uniform(0.1, 0.9, size=2) * (height, width)
        sigma = rng.uniform(*blob_size) * side
        field += np.exp(-((rows - cy)**2 + (cols - cx)**2) / (2 * sigma**2))
    count = int(round(fraction * height * width))
    mask = np.zeros(height * width, bool)
    if count > 0:
        mask[np.argpartition(-field.ravel(), count - 1)[:count]] = True
    return mask.reshape(height, width)


def camelyon_class_map(rng: np.random.Generator,
                       size: int,
                       *,
                       tumour_fraction: Optional[float] = None,
                       gap_prob: float = 0.6,
                       lymphocyte_prob: float = 0.35) -> np.ndarray:
    """Label map of a lymph-node-like patch: stroma, gaps, maybe tumour.

    Stroma fills the patch; with some probability white gaps (glass / fat) and
    a lymphocyte aggregate (dark but not tumour, so darkness alone does not
    tell the label) are added; tumour blobs are painted last, over everything.

    Args:
        rng: Random generator.
        size: Patch side in pixels.
        tumour_fraction: Exact fraction of tumour pixels (rounded to whole
            pixels); ``None`` or 0 for a negative patch.
        gap_prob: Probability of white gaps (3-25 % of the patch).
        lymphocyte_prob: Probability of a lymphocyte aggregate (5-30 %).

    Returns:
        np.ndarray: int64 array of shape (size, size) with values in
        {TUMOUR, STROMA, LYMPHOCYTES, BACKGROUND}.
    """
    shape = (size, size)
    class_map = np.full(shape, STROMA, np.int64)
    if rng.random() < gap_prob:
        num_gaps = int(rng.integers(1, 6))
        gaps = blob_mask(rng, shape, rng.uniform(0.03, 0.25), num_blobs=num_gaps,
                         blob_size=(0.05, 0.2), wobble=0.05)
        class_map[gaps] = BACKGROUND
    if rng.random() < lymphocyte_prob:
        aggregate = blob_mask(rng, shape, rng.uniform(0.05, 0.3), num_blobs=1)
        class_map[aggregate] = LYMPHOCYTES
    if tumour_fraction:
        tumour = blob_mask(rng, shape, tumour_fraction, num_blobs=int(rng.integers(1, 4)))
        class_map[tumour] = TUMOUR
    return class_map


def bcss_class_map(rng: np.random.Generator,
                   size: int,
                   *,
                   min_fraction: float = 0.03,
                   background_prob: float = 0.35) -> np.ndarray:
    """Label map with a random subset of TUM, STR, LYM, NEC (and maybe background).

    Each chosen class gets a smooth random field plus a random offset; every
    pixel takes the class with the largest value. Classes that end up below
    ``min_fraction`` are removed (their pixels go to the neighbouring winner),
    so every class in the map covers at least ``min_fraction`` of it and the
    map always holds at least one tissue class.

    Args:
        rng: Random generator.
        size: Patch side in pixels.
        min_fraction: Smallest area fraction a class may cover, in [0, 0.5).
        background_prob: Probability that background (glass) is one of the classes.

    Returns:
        np.ndarray: int64 array of shape (size, size) with values in [0, 4].
    """
    if not 0.0 <= min_fraction < 0.5:
        raise ValueError(f'bcss_class_map: min_fraction must lie in [0, 0.5), got {min_fraction}')
    shape = (size, size)
    num_tissue = int(rng.choice([1, 2, 3, 4], p=[0.2, 0.35, 0.3, 0.15]))
    classes = list(rng.choice(_NUM_TISSUE, size=num_tissue, replace=False))
    if rng.random() < background_prob:
        classes.append(BACKGROUND)
    fields = np.stack([
        smooth_field(rng, shape, size * rng.uniform(0.3, 0.7)) + rng.normal(0.0, 0.6)
        for _ in classes
    ])
    classes = np.array(classes, np.int64)
    active = np.ones(len(classes), bool)
    while True:
        winner = np.argmax(np.where(active[:, None, None], fields, -np.inf), axis=0)
        fractions = np.bincount(winner.ravel(), minlength=len(classes)) / winner.size
        small = np.flatnonzero(active & (fractions < min_fraction))
        if len(small) == 0:
            break
        drop = small[np.argmin(fractions[small])]
        tissue_left = active & (classes != BACKGROUND)
        if classes[drop] != BACKGROUND and tissue_left.sum() == 1:
            drop = int(np.flatnonzero(classes == BACKGROUND)[0])  # keep the last tissue class
        active[drop] = False
    return classes[winner]


def class_presence(class_map: np.ndarray, num_classes: int = _NUM_TISSUE) -> np.ndarray:
    """0/1 flags telling which of the first ``num_classes`` classes occur in ``class_map``.

    Args:
        class_map: Integer label map of any shape.
        num_classes: Number of leading class indices to report.

    Returns:
        np.ndarray: int64 array of shape (num_classes,).
    """
    counts = np.bincount(np.asarray(class_map).ravel(), minlength=num_classes)[:num_classes]
    return (counts > 0).astype(np.int64)

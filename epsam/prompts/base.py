"""Common interface and input checks of the CAM -> SAM prompt generators."""
from typing import Optional

import numpy as np

from .structures import Prompts

#: How far a CAM value may leave [0, 1] (float round-off) before it is an error.
CAM_RANGE_TOLERANCE = 1e-5


class BasePromptGenerator:
    """Turn a class activation map and its binary mask into :class:`Prompts`.

    Every generator is called as ``generator(cam, mask, rng)`` and returns
    prompts in the pixel frame of ``cam`` (map them with
    :meth:`Prompts.to_sam_frame` before they reach SAM). Random generators
    draw only from the ``rng`` passed in, so one seed gives one result.

    Args of ``__call__``:
        cam: ``(H, W)`` float activation map with values in [0, 1].
        mask: ``(H, W)`` bool mask (the thresholded CAM), or ``None`` for the
            generators that do not use one.
        rng: ``numpy.random.Generator``; required by random generators.
    """

    #: Whether ``__call__`` needs ``mask``.
    requires_mask = True
    #: Whether ``__call__`` draws random numbers (and so needs ``rng``).
    requires_rng = False

    def __call__(self, cam: np.ndarray, mask: Optional[np.ndarray] = None,
                 rng: Optional[np.random.Generator] = None) -> Prompts:
        cam = check_cam(cam)
        if mask is None:
            if self.requires_mask:
                raise ValueError(f'{type(self).__name__} needs a mask; got mask=None')
        else:
            mask = check_mask(mask, cam.shape)
        if self.requires_rng and not isinstance(rng, np.random.Generator):
            raise TypeError(f'{type(self).__name__} needs rng=numpy.random.Generator '
                            f'(e.g. np.random.default_rng(seed)), got {type(rng).__name__}')
        return self.generate(cam, mask, rng)

    def generate(self, cam: np.ndarray, mask: Optional[np.ndarray],
                 rng: Optional[np.random.Generator]) -> Prompts:
        """Build the prompts from checked inputs (implemented by subclasses)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ', '.join(f'{k}={v!r}' for k, v in vars(self).items()
                         if not k.startswith('requires_'))
        return f'{type(self).__name__}({args})'


def check_cam(cam: np.ndarray) -> np.ndarray:
    """Return ``cam`` as a float64 ``(H, W)`` array, or raise a clear error."""
    cam = np.asarray(cam)
    if cam.ndim != 2:
        raise ValueError(f'cam must be a 2-D (H, W) array, got shape {cam.shape}')
    if cam.size == 0:
        raise ValueError(f'cam is empty (shape {cam.shape})')
    if not (np.issubdtype(cam.dtype, np.floating) or np.issubdtype(cam.dtype, np.integer)):
        raise ValueError(f'cam must be a real-valued array, got dtype {cam.dtype}')
    cam = cam.astype(np.float64, copy=False)
    if not np.isfinite(cam).all():
        raise ValueError('cam holds NaN or infinite values')
    low, high = float(cam.min()), float(cam.max())
    if low < -CAM_RANGE_TOLERANCE or high > 1 + CAM_RANGE_TOLERANCE:
        raise ValueError(f'cam values must lie in [0, 1], got [{low:.4g}, {high:.4g}]; '
                         'min-max scale the CAM first')
    return np.clip(cam, 0.0, 1.0)


def check_mask(mask: np.ndarray, shape: tuple) -> np.ndarray:
    """Return ``mask`` as a bool array of ``shape``, or raise a clear error."""
    mask = np.asarray(mask)
    if mask.shape != tuple(shape):
        raise ValueError(f'mask shape {mask.shape} differs from cam shape {tuple(shape)}')
    if mask.dtype != np.bool_:
        if not np.isin(mask, (0, 1)).all():
            raise ValueError(f'mask must be boolean or hold only 0/1, got dtype {mask.dtype} '
                             f'with values {np.unique(mask)[:5].tolist()}...')
        mask = mask.astype(bool)
    return mask


def check_positive_int(value: int, name: str, allow_zero: bool = False) -> int:
    """Return ``value`` as an int, or raise naming ``name``."""
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f'{name} must be an int >= {low}, got {value!r}')
    return int(value)


def flat_to_points(flat_indices: np.ndarray, width: int) -> np.ndarray:
    """``(N,)`` flat pixel indices of a ``(H, width)`` image -> ``(N, 2)`` (x, y)."""
    rows, cols = np.divmod(np.asarray(flat_indices, dtype=np.int64), width)
    return np.stack([cols, rows], axis=1).astype(np.float64)

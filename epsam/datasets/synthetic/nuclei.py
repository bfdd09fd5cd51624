"""Vectorised painting of cell nuclei (soft, irregular ellipses).

Every nucleus is evaluated on a small square window around its centre, all
nuclei of one call at once as a ``(N, K, K)`` array, and the windows are
scattered into the canvas with ``np.maximum.at``. There is no per-pixel or
per-nucleus Python loop.
"""
from dataclasses import dataclass
from typing import Optional, Tuple

import cv2
import numpy as np

__all__ = ['NucleusStyle', 'paint_nuclei']


@dataclass(frozen=True)
class NucleusStyle:
    """How the nuclei of one tissue class look.

    Args:
        density: Expected number of nuclei per pixel of the class's area
            (at ``scale=1``).
        radius: Range (min, max) of the long semi-axis, in pixels at ``scale=1``.
        elongation: Range of the long / short semi-axis ratio (1 = round).
        irregularity: Range of the amplitude of the 2nd and 3rd angular
            harmonics that bend the outline (0 = perfect ellipse).
        stain: Range of the haematoxylin concentration at the nucleus centre.
        chromatin: Amplitude in [0, 1] of the speckle inside the nucleus.
        vesicular: Fraction in [0, 1] by which the centre is paler than the
            rim (open chromatin of tumour nuclei).
        angle_jitter: Standard deviation, in radians, of the nucleus angle
            around the patch's fibre direction; ``None`` draws angles uniformly.
    """

    density: float
    radius: Tuple[float, float]
    elongation: Tuple[float, float] = (1.0, 1.2)
    irregularity: Tuple[float, float] = (0.0, 0.05)
    stain: Tuple[float, float] = (1.0, 1.3)
    chromatin: float = 0.2
    vesicular: float = 0.0
    angle_jitter: Optional[float] = None


def paint_nuclei(rng: np.random.Generator,
                 centres: np.ndarray,
                 style: NucleusStyle,
                 *,
                 canvas_shape: Tuple[int, int],
                 scale: float = 1.0,
                 base_angle: float = 0.0,
                 softness: float = 0.7) -> Tuple[np.ndarray, np.ndarray]:
    """Paint nuclei centred at ``centres`` onto empty canvases.

    Args:
        rng: Random generator; all per-nucleus shapes are drawn from it.
        centres: Float array of shape (N, 2) holding (y, x) in pixels.
        style: Shape and stain ranges of the nuclei.
        canvas_shape: (H, W) of the output maps, in pixels.
        scale: Multiplier applied to all radii.
        base_angle: Mean orientation in radians, used when
            ``style.angle_jitter`` is set (e.g. fibroblasts along fibres).
        softness: Width of the anti-aliased border, in pixels.

    Returns:
        tuple: ``(alpha, stain)``, two float32 arrays of shape (H, W): the
        nucleus coverage in [0, 1] and the haematoxylin concentration it adds.
    """
    height, width = canvas_shape
    alpha_canvas = np.zeros(height * width, np.float32)
    stain_canvas = np.zeros(height * width, np.float32)
    num = len(centres)
    if num == 0:
        return alpha_canvas.reshape(height, width), stain_canvas.reshape(height, width)

    f32 = np.float32
    long_axis = (rng.uniform(*style.radius, size=num) * scale).astype(f32)
    short_axis = (long_axis / rng.uniform(*style.elongation, size=num)).astype(f32)
    if style.angle_jitter is None:
        angle = rng.uniform(0.0, np.pi, size=num)
    else:
        angle = base_angle + rng.normal(0.0, style.angle_jitter, size=num)
    irregular = rng.uniform(*style.irregularity, size=(num, 2))
    phase = rng.uniform(0.0, 2 * np.pi, size=(num, 2))
    intensity = rng.uniform(*style.stain, size=num).astype(f32)

    half = int(np.ceil(long_axis.max() * (1.0 + irregular.sum(axis=1).max()) + 1.5))
    offsets = np.arange(-half, half + 1, dtype=f32)
    centre_int = np.floor(centres).astype(np.int64)
    frac = (centres - centre_int).astype(f32)

    def per_nucleus(values):  # (N,) -> (N, 1, 1) float32, broadcast over the window
        return np.asarray(values, f32)[:, None, None]

    # (N, K, K) coordinates relative to each sub-pixel centre, in the nucleus frame
    dy = offsets[None, :, None] - per_nucleus(frac[:, 0])
    dx = offsets[None, None, :] - per_nucleus(frac[:, 1])
    cos_a, sin_a = per_nucleus(np.cos(angle)), per_nucleus(np.sin(angle))
    along = (dx * cos_a + dy * sin_a) / per_nucleus(long_axis)
    across = (dy * cos_a - dx * sin_a) / per_nucleus(short_axis)
    rho = np.sqrt(along * along + across * across)
    # outline radius 1 + a2 cos(2 theta + p2) + a3 cos(3 theta + p3), with
    # cos / sin of the polar angle theta taken from (along, across) / rho
    cos_t = along / np.maximum(rho, 1e-6)
    sin_t = across / np.maximum(rho, 1e-6)
    cos_2t, sin_2t = cos_t * cos_t - sin_t * sin_t, 2 * cos_t * sin_t
    cos_3t, sin_3t = cos_2t * cos_t - sin_2t * sin_t, sin_2t * cos_t + cos_2t * sin_t
    amp2 = irregular[:, 0] * np.cos(phase[:, 0]), irregular[:, 0] * np.sin(phase[:, 0])
    amp3 = irregular[:, 1] * np.cos(phase[:, 1]), irregular[:, 1] * np.sin(phase[:, 1])
    outline = (1.0 + per_nucleus(amp2[0]) * cos_2t - per_nucleus(amp2[1]) * sin_2t
               + per_nucleus(amp3[0]) * cos_3t - per_nucleus(amp3[1]) * sin_3t)
    alpha = np.clip((outline - rho) * per_nucleus(short_axis / softness) + 0.5, 0.0, 1.0)

    # clumped chromatin: smoothed speckle (blurred window by window)
    size = 2 * half + 1
    speckle = rng.standard_normal((num * size, size), dtype=np.float32)
    speckle = cv2.GaussianBlur(speckle, (0, 0), 0.8 * max(scale, 1.0))
    speckle = speckle.reshape(num, size, size) / (speckle.std() + 1e-6)
    profile = 1.0 - style.vesicular * np.clip(1.0 - rho / outline, 0.0, 1.0)
    stain = alpha * per_nucleus(intensity) * profile * np.clip(
        1.0 + style.chromatin * speckle, 0.2, None)

    rows = centre_int[:, 0, None, None] + offsets.astype(np.int64)[None, :, None]
    cols = centre_int[:, 1, None, None] + offsets.astype(np.int64)[None, None, :]
    rows, cols = np.broadcast_arrays(rows, cols)
    inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width) & (alpha > 0)
    flat = rows[inside] * width + cols[inside]
    np.maximum.at(alpha_canvas, flat, alpha[inside])
    np.maximum.at(stain_canvas, flat, stain[inside])
    return alpha_canvas.reshape(height, width), stain_canvas.reshape(height, width)

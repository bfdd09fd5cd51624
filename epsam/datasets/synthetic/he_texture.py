"""Painting of H&E-like tissue from a label map.

The painter follows the Beer-Lambert stain model that colour deconvolution
inverts: every pixel holds a haematoxylin (H, purple, binds nuclei) and an
eosin (E, pink, binds cytoplasm and collagen) concentration, plus a neutral
grey optical density; the RGB value is ``I0 * exp(-(H * h + E * e + grey))``
with ``h`` and ``e`` the stains' optical-density vectors. Each tissue class
has its own concentrations, texture and nuclei; each patch gets its own stain
vectors, stain strengths, blur, noise and colour jitter.
"""
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence, Tuple

import cv2
import numpy as np

from .nuclei import NucleusStyle, paint_nuclei

__all__ = [
    'TISSUE_CLASSES', 'TUMOUR', 'STROMA', 'LYMPHOCYTES', 'NECROSIS', 'BACKGROUND',
    'TissueStyle', 'DEFAULT_STYLES', 'smooth_field', 'render_patch'
]

#: Tissue kinds the painter knows, in the BCSS-WSSS mask-index order.
TISSUE_CLASSES = ('TUM', 'STR', 'LYM', 'NEC', 'BACK')
TUMOUR, STROMA, LYMPHOCYTES, NECROSIS, BACKGROUND = range(len(TISSUE_CLASSES))

# Optical-density vectors (R, G, B) of haematoxylin and eosin (Macenko's
# reference values), each of unit length.
_H_VECTOR = np.array([0.5626, 0.7201, 0.4062], np.float32)
_E_VECTOR = np.array([0.2159, 0.8012, 0.5581], np.float32)


@dataclass(frozen=True)
class TissueStyle:
    """Stain concentrations, texture and nuclei of one tissue class.

    Args:
        haematoxylin: Range of the class's mean H concentration outside nuclei
            (drawn once per patch).
        eosin: Range of the mean E concentration (drawn once per patch).
        grey: Range of the neutral optical density (greyish, washed-out look).
        texture: Name of the texture that modulates the stains: ``'fibres'``
            (oriented wavy collagen), ``'mottled'`` (isotropic cell-sized
            blotches), ``'granular'`` (fine debris) or ``'flat'``.
        texture_strength: Relative modulation amplitude in [0, 1].
        nuclei: Styles of the nuclei scattered over the class's area.
    """

    haematoxylin: Tuple[float, float]
    eosin: Tuple[float, float]
    grey: Tuple[float, float] = (0.0, 0.0)
    texture: str = 'flat'
    texture_strength: float = 0.0
    nuclei: Tuple[NucleusStyle, ...] = ()


_SCATTERED_LYMPHOCYTES = NucleusStyle(
    density=0.0015, radius=(2.0, 2.6), elongation=(1.0, 1.15), stain=(1.2, 1.6), chromatin=0.1)

#: Default look of each tissue class, indexed like ``TISSUE_CLASSES``.
DEFAULT_STYLES: Tuple[TissueStyle, ...] = (
    # TUM: purple-tinged cytoplasm, crowded large pleomorphic vesicular nuclei
    TissueStyle(
        haematoxylin=(0.28, 0.45), eosin=(0.35, 0.55), texture='mottled', texture_strength=0.35,
        nuclei=(NucleusStyle(density=0.016, radius=(3.6, 6.2), elongation=(1.0, 1.7),
                             irregularity=(0.06, 0.22), stain=(0.9, 1.4), chromatin=0.3,
                             vesicular=0.35),)),
    # STR: pink wavy collagen with clefts, sparse spindle fibroblasts
    TissueStyle(
        haematoxylin=(0.04, 0.10), eosin=(0.60, 0.95), texture='fibres', texture_strength=0.8,
        nuclei=(NucleusStyle(density=0.0025, radius=(3.5, 6.0), elongation=(2.2, 3.5),
                             irregularity=(0.0, 0.06), stain=(0.9, 1.3), chromatin=0.15,
                             angle_jitter=0.25), _SCATTERED_LYMPHOCYTES)),
    # LYM: sheets of small round very dark nuclei with little cytoplasm
    TissueStyle(
        haematoxylin=(0.15, 0.28), eosin=(0.20, 0.35), texture='mottled', texture_strength=0.2,
        nuclei=(NucleusStyle(density=0.045, radius=(1.9, 2.8), elongation=(1.0, 1.2),
                             irregularity=(0.0, 0.06), stain=(1.3, 1.8), chromatin=0.1),)),
    # NEC: pale pink-grey granular debris with karyorrhectic fragments
    TissueStyle(
        haematoxylin=(0.06, 0.16), eosin=(0.22, 0.42), grey=(0.08, 0.20), texture='granular',
        texture_strength=0.6,
        nuclei=(NucleusStyle(density=0.012, radius=(0.7, 1.6), elongation=(1.0, 1.6),
                             irregularity=(0.0, 0.25), stain=(0.8, 1.4), chromatin=0.2),
                NucleusStyle(density=0.002, radius=(2.5, 4.0), elongation=(1.0, 1.5),
                             irregularity=(0.1, 0.3), stain=(0.25, 0.45), chromatin=0.4))),
    # BACK: glass / fat, almost white
    TissueStyle(haematoxylin=(0.0, 0.015), eosin=(0.0, 0.03), texture='flat'),
)


def smooth_field(rng: np.random.Generator, shape: Tuple[int, int], cell: float) -> np.ndarray:
    """Smooth random field with zero mean and unit standard deviation.

    Args:
        rng: Random generator.
        shape: (H, W) of the field, in pixels.
        cell: Correlation length in pixels (the spacing of the random grid
            that is upsampled with bicubic interpolation).

    Returns:
        np.ndarray: float32 array of shape (H, W).
    """
    height, width = shape
    grid_h = int(np.ceil(height / cell)) + 2
    grid_w = int(np.ceil(width / cell)) + 2
    grid = rng.standard_normal((grid_h, grid_w), dtype=np.float32)
    # upsample the inner grid cells only (the outer ring shapes the border)
    pad_y, pad_x = height / (grid_h - 2), width / (grid_w - 2)
    field = cv2.resize(grid, (width + int(2 * pad_x), height + int(2 * pad_y)),
                       interpolation=cv2.INTER_CUBIC)
    top, left = int(pad_y), int(pad_x)
    return _standardise(field[top:top + height, left:left + width])


def _standardise(values: np.ndarray) -> np.ndarray:
    return ((values - values.mean()) / (values.std() + 1e-6)).astype(np.float32)


def _squash(values: np.ndarray) -> np.ndarray:
    """Map a standardised map to [0, 1] with mean about 0.5."""
    return (0.5 + 0.5 * np.tanh(0.9 * _standardise(values))).astype(np.float32)


def _fibre_texture(rng, shape, scale, angle):
    """Wavy collagen streaks along ``angle``, with dark fibres and pale clefts."""
    noise = rng.standard_normal(shape, dtype=np.float32)
    length = max(5, int(round(13 * scale)) | 1)
    kernel = np.zeros((length, length), np.float32)
    centre = length // 2
    dy, dx = centre * np.sin(angle), centre * np.cos(angle)
    cv2.line(kernel, (int(round(centre - dx)), int(round(centre - dy))),
             (int(round(centre + dx)), int(round(centre + dy))), 1.0)
    streaks = cv2.filter2D(noise, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT)
    # bend the streaks with a smooth displacement field
    warp = 3.0 * scale
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    map_x = cols + warp * smooth_field(rng, shape, 24 * scale)
    map_y = rows + warp * smooth_field(rng, shape, 24 * scale)
    wavy = cv2.remap(streaks, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return _squash(wavy)


def _mottled_texture(rng, shape, scale, angle):
    """Isotropic blotches about one cell across."""
    noise = rng.standard_normal(shape, dtype=np.float32)
    blotches = cv2.GaussianBlur(noise, (0, 0), 2.0 * scale)
    return _squash(blotches + 0.5 * smooth_field(rng, shape, 12 * scale))


def _granular_texture(rng, shape, scale, angle):
    """Fine debris: speckle plus sparse dark granules over a patchy haze."""
    speckle = cv2.GaussianBlur(rng.standard_normal(shape, dtype=np.float32), (0, 0), 0.6 * scale)
    granules = (rng.random(shape, dtype=np.float32) > 0.97).astype(np.float32)
    granules = cv2.GaussianBlur(granules, (0, 0), 0.8 * scale)
    return _squash(speckle + 4.0 * granules + 0.8 * smooth_field(rng, shape, 10 * scale))


def _flat_texture(rng, shape, scale, angle):
    return np.full(shape, 0.5, np.float32)


_TEXTURES: Dict[str, Callable] = dict(
    fibres=_fibre_texture, mottled=_mottled_texture, granular=_granular_texture,
    flat=_flat_texture)


def _stain_vector(rng: np.random.Generator, reference: np.ndarray, jitter: float) -> np.ndarray:
    vector = np.clip(reference + rng.normal(0.0, jitter, 3).astype(np.float32), 0.05, None)
    return vector / np.linalg.norm(vector)


def _check_class_map(class_map: np.ndarray, num_styles: int) -> np.ndarray:
    class_map = np.asarray(class_map)
    if class_map.ndim != 2 or not np.issubdtype(class_map.dtype, np.integer):
        raise ValueError('render_patch: class_map must be a 2-D integer array, got '
                         f'shape {class_map.shape} and dtype {class_map.dtype}')
    if class_map.size and (class_map.min() < 0 or class_map.max() >= num_styles):
        raise ValueError(f'render_patch: class_map values must lie in [0, {num_styles - 1}] '
                         f'(one per style), got [{class_map.min()}, {class_map.max()}]')
    return class_map


def render_patch(rng: np.random.Generator,
                 class_map: np.ndarray,
                 *,
                 styles: Optional[Sequence[TissueStyle]] = None,
                 scale: float = 1.0,
                 jitter: bool = True) -> np.ndarray:
    """Paint an H&E-like RGB patch whose tissue follows ``class_map``.

    The same generator state and inputs always give the same pixels.

    Args:
        rng: Random generator; the only source of randomness.
        class_map: Integer array of shape (H, W); value ``i`` paints tissue
            ``styles[i]`` (by default ``TISSUE_CLASSES[i]``: 0 tumour,
            1 stroma, 2 lymphocytes, 3 necrosis, 4 background glass/fat).
        styles: Tissue styles indexed by class value; ``DEFAULT_STYLES``
            when ``None``.
        scale: Size of the structures (nuclei, fibres, blotches) relative to
            the defaults; 2.0 looks like twice the magnification.
        jitter: Whether to apply per-patch stain variation (stain vectors and
            strengths, illumination), colour jitter, blur and noise.

    Returns:
        np.ndarray: uint8 RGB image of shape (H, W, 3).
    """
    styles = DEFAULT_STYLES if styles is None else tuple(styles)
    class_map = _check_class_map(class_map, len(styles))
    if scale <= 0:
        raise ValueError(f'render_patch: scale must be positive, got {scale}')
    shape = class_map.shape
    height, width = shape

    if jitter:
        h_vector = _stain_vector(rng, _H_VECTOR, 0.04)
        e_vector = _stain_vector(rng, _E_VECTOR, 0.04)
        h_gain, e_gain = rng.uniform(0.75, 1.25, size=2)
        white = rng.uniform(228.0, 252.0)
    else:
        h_vector, e_vector, h_gain, e_gain, white = _H_VECTOR, _E_VECTOR, 1.0, 1.0, 245.0
    fibre_angle = rng.uniform(0.0, np.pi)

    h_map = np.zeros(shape, np.float32)
    e_map = np.zeros(shape, np.float32)
    grey_map = np.zeros(shape, np.float32)
    nuclei_alpha = np.zeros(shape, np.float32)
    nuclei_stain = np.zeros(shape, np.float32)
    for index in np.unique(class_map):
        style = styles[index]
        region = class_map == index
        texture = _TEXTURES[style.texture](rng, shape, scale, fibre_angle)
        modulation = 1.0 + style.texture_strength * (2.0 * texture[region] - 1.0)
        h_map[region] = rng.uniform(*style.haematoxylin) * (
            1.0 + 0.5 * (modulation - 1.0))
        e_map[region] = rng.uniform(*style.eosin) * modulation
        grey_map[region] = rng.uniform(*style.grey)
        for nucleus_style in style.nuclei:
            expected = nucleus_style.density * height * width / scale**2
            centres = rng.random((rng.poisson(expected), 2)) * (height, width)
            keep = region[centres[:, 0].astype(int), centres[:, 1].astype(int)]
            alpha, stain = paint_nuclei(
                rng, centres[keep], nucleus_style, canvas_shape=shape, scale=scale,
                base_angle=fibre_angle)
            np.maximum(nuclei_alpha, alpha, out=nuclei_alpha)
            np.maximum(nuclei_stain, stain, out=nuclei_stain)

    # soft tissue boundaries, then nuclei over the cytoplasm / matrix
    sigma = 1.0 * scale
    h_map, e_map, grey_map = (cv2.GaussianBlur(m, (0, 0), sigma) for m in (h_map, e_map, grey_map))
    h_map = h_map * (1.0 - nuclei_alpha) + nuclei_stain
    e_map = e_map * (1.0 - 0.7 * nuclei_alpha)
    density = (h_gain * h_map[..., None] * h_vector + e_gain * e_map[..., None] * e_vector
               + grey_map[..., None])
    image = white * np.exp(-density)

    if jitter:
        image = _photometric_jitter(rng, image, scale)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _photometric_jitter(rng: np.random.Generator, image: np.ndarray, scale: float) -> np.ndarray:
    """Per-patch focus blur, colour gains, brightness / contrast and sensor noise."""
    blur = rng.uniform(0.0, 1.0) * scale
    if blur > 0.3:
        image = cv2.GaussianBlur(image, (0, 0), blur)
    gains = rng.uniform(0.97, 1.03, size=3).astype(np.float32)
    contrast = rng.uniform(0.88, 1.12)
    brightness = rng.uniform(-10.0, 10.0)
    mean = image.mean()
    image = (image * gains - mean) * contrast + mean + brightness
    noise = rng.uniform(1.0, 4.0)
    return image + noise * rng.standard_normal(image.shape, dtype=np.float32)

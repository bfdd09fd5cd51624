"""The rule that turns a real H&E image into a class map (epithelium / stroma / glass).

The ground truth of the real-texture datasets is made by this rule, **not by
a pathologist**. It is deterministic and uses only the stains:

1. colour deconvolution (Ruifrok & Johnston's H, E, DAB matrix, as in
   ``skimage.color.rgb2hed``) gives per-pixel haematoxylin and eosin optical
   densities;
2. tissue = summed RGB optical density (smoothed with a 1 um Gaussian) above
   ``tissue_od``, closed, with specks dropped and clefts / holes smaller than
   ``fill_hole_um`` squared filled (so the gaps between collagen bundles count as
   tissue, as an annotator would draw them); everything else is glass;
3. epithelium = tissue whose haematoxylin excess ``H - E``, both densities
   averaged over tissue with a ``stain_sigma_um`` Gaussian, is above a
   threshold (Otsu's over the tissue pixels unless given). Squamous and
   glandular epithelium is a sheet of cells whose nuclei *and* cytoplasm take
   up haematoxylin, while dermis / stroma is collagen that takes up eosin and
   holds sparse nuclei, so the excess drops sharply at their real boundary
   (the basement membrane) and the threshold follows it to within a few
   micrometres. (The share ``H / (H + E)`` was tried first: it also calls
   pale, loose connective tissue epithelium, where both densities are
   small.) Pixels whose eosin density is below ``ink_eosin`` (colours that H
   and E cannot make, such as the teal marking ink on the skin slide, which
   the deconvolution reads as strong haematoxylin) are left out of the
   averages and are never epithelium;
4. opening and closing (radius ``smooth_um``), dropping epithelium islands
   smaller than ``min_epithelium_um`` squared and filling holes in it smaller
   than ``fill_epithelium_hole_um`` squared.

Known errors (see ``docs/datasets.md``): dense inflammatory infiltrates in the
dermis are called epithelium (their nuclei dominate the stains); loose
keratin flakes count as epithelium; small glands and follicle sections below
``min_epithelium_um`` count as stroma; inked tissue counts as stroma. On a
carcinoma tile, lymphocyte streams are called epithelium and luminal
secretions stroma.
"""
from dataclasses import asdict, dataclass
from typing import Optional

import cv2
import numpy as np

__all__ = [
    'EPITHELIUM', 'STROMA', 'GLASS', 'LabelRule', 'hed_optical_density', 'label_tissue',
    'otsu_threshold'
]

#: Class indices of the label map, equal to the BCSS-WSSS mask indices
#: (TUM 0, STR 1, background 4), so a map can be written as a BCSS mask as is.
EPITHELIUM, STROMA, GLASS = 0, 1, 4

# Ruifrok & Johnston's stain optical-density vectors (rows: H, E, DAB), the
# third replaced by the cross product of the first two, as skimage does.
_RGB_FROM_HED = np.array([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11], [0.27, 0.57, 0.78]])
_RGB_FROM_HED[2] = np.cross(_RGB_FROM_HED[0], _RGB_FROM_HED[1])
_RGB_FROM_HED /= np.linalg.norm(_RGB_FROM_HED, axis=1, keepdims=True)
_HED_FROM_RGB = np.linalg.inv(_RGB_FROM_HED).astype(np.float32)


@dataclass(frozen=True)
class LabelRule:
    """Parameters of :func:`label_tissue`; lengths in micrometres.

    Args:
        tissue_od: Smallest summed RGB optical density of tissue (glass is
            about 0.1-0.2 on both bundled images).
        fill_hole_um: Glass regions (clefts, holes) with an area below this
            length squared become tissue.
        min_tissue_um: Tissue pieces with an area below this length squared
            become glass.
        stain_sigma_um: Gaussian sigma of the haematoxylin-share average.
        epithelium_threshold: Threshold of the haematoxylin excess ``H - E``,
            or None for Otsu's threshold over the tissue pixels of the image.
        ink_eosin: Pixels with an eosin density below this are ink (not
            stain): left out of the averages and never epithelium.
        smooth_um: Radius of the opening and closing of the epithelium mask.
        min_epithelium_um: Epithelium islands below this length squared
            become stroma.
        fill_epithelium_hole_um: Holes in the epithelium below this length
            squared become epithelium.
    """

    tissue_od: float = 0.4
    fill_hole_um: float = 30.0
    min_tissue_um: float = 30.0
    stain_sigma_um: float = 6.0
    epithelium_threshold: Optional[float] = None
    ink_eosin: float = -0.15
    smooth_um: float = 3.0
    min_epithelium_um: float = 60.0
    fill_epithelium_hole_um: float = 25.0

    def as_dict(self) -> dict:
        """The parameters as a JSON-ready dict (for a dataset's metadata)."""
        return asdict(self)


def hed_optical_density(image: np.ndarray) -> np.ndarray:
    """Haematoxylin, eosin and residual (DAB) optical densities of an RGB image.

    Args:
        image: RGB uint8 array of shape (H, W, 3).

    Returns:
        np.ndarray: float32 array of shape (H, W, 3): H, E, D densities.
    """
    density = -np.log(np.maximum(image.astype(np.float32), 1.0) / 255.0)
    return (density.reshape(-1, 3) @ _HED_FROM_RGB).reshape(density.shape)


def otsu_threshold(values: np.ndarray) -> float:
    """Otsu's threshold of a set of values (256 bins between the 0.5 and 99.5 percentiles).

    Args:
        values: Any array of floats.

    Returns:
        float: The threshold, in the units of ``values``.
    """
    values = np.asarray(values, np.float64).ravel()
    low, high = np.percentile(values, [0.5, 99.5])
    if high <= low:
        return float(low)
    scaled = np.clip((values - low) / (high - low) * 255.0, 0, 255).astype(np.uint8)
    level, _ = cv2.threshold(scaled.reshape(1, -1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return float(low + level / 255.0 * (high - low))


def _disk(radius_px: float) -> np.ndarray:
    radius = max(1, int(round(radius_px)))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _drop_small(mask: np.ndarray, min_area_px: float) -> np.ndarray:
    """``mask`` without its 8-connected components smaller than ``min_area_px``."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8),
                                                               connectivity=8)
    keep = np.zeros(count, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_area_px
    return keep[labels]


def _fill_small_holes(mask: np.ndarray, max_area_px: float) -> np.ndarray:
    """``mask`` with its holes (components of ``~mask``) smaller than ``max_area_px`` filled."""
    return ~_drop_small(~mask, max_area_px)


def label_tissue(image: np.ndarray, mpp: float, rule: Optional[LabelRule] = None) -> np.ndarray:
    """Class map of an H&E image: epithelium 0, stroma 1, glass 4 (see the module doc).

    Args:
        image: RGB uint8 array of shape (H, W, 3).
        mpp: Micrometres per pixel of ``image`` (the rule's lengths are in um).
        rule: Parameters; the defaults when None.

    Returns:
        np.ndarray: uint8 array of shape (H, W) with values in {0, 1, 4}.

    Raises:
        ValueError: ``image`` is not RGB uint8 or ``mpp`` is not positive.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f'label_tissue needs an RGB uint8 image of shape (H, W, 3), got '
                         f'{image.dtype} {image.shape}')
    if not mpp or mpp <= 0:
        raise ValueError(f'mpp must be positive, got {mpp!r}')
    rule = rule or LabelRule()
    px = 1.0 / float(mpp)  # pixels per micrometre

    density = -np.log(np.maximum(image.astype(np.float32), 1.0) / 255.0)
    total = cv2.GaussianBlur(density.sum(axis=2), (0, 0), max(0.5, 1.0 * px))
    tissue = total > rule.tissue_od
    tissue = cv2.morphologyEx(tissue.astype(np.uint8), cv2.MORPH_CLOSE, _disk(2.0 * px)) > 0
    tissue = _drop_small(tissue, (rule.min_tissue_um * px)**2)
    tissue = _fill_small_holes(tissue, (rule.fill_hole_um * px)**2)
    class_map = np.full(image.shape[:2], GLASS, np.uint8)
    if not tissue.any():
        return class_map
    class_map[tissue] = STROMA

    # stain densities averaged over tissue only (normalised convolution), so
    # glass next to the tissue edge does not dilute them
    hed = (density.reshape(-1, 3) @ _HED_FROM_RGB).reshape(density.shape)
    ink = hed[..., 1] < rule.ink_eosin
    weight = (tissue & ~ink).astype(np.float32)
    sigma = rule.stain_sigma_um * px
    norm = cv2.GaussianBlur(weight, (0, 0), sigma) + 1e-6
    haem = cv2.GaussianBlur(np.clip(hed[..., 0], 0, None) * weight, (0, 0), sigma) / norm
    eosin = cv2.GaussianBlur(np.clip(hed[..., 1], 0, None) * weight, (0, 0), sigma) / norm
    excess = haem - eosin
    threshold = rule.epithelium_threshold
    if threshold is None:
        threshold = otsu_threshold(excess[weight > 0] if weight.any() else excess[tissue])
    epithelium = ((excess > threshold) & tissue & ~ink).astype(np.uint8)
    epithelium = cv2.morphologyEx(epithelium, cv2.MORPH_OPEN, _disk(rule.smooth_um * px))
    epithelium = cv2.morphologyEx(epithelium, cv2.MORPH_CLOSE, _disk(rule.smooth_um * px)) > 0
    epithelium = _drop_small(epithelium & tissue, (rule.min_epithelium_um * px)**2)
    epithelium = _fill_small_holes(epithelium, (rule.fill_epithelium_hole_um * px)**2) & tissue
    class_map[epithelium] = EPITHELIUM
    return class_map

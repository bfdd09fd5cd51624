"""Slide-level outputs: PNG pictures, the label mask as a pyramidal TIFF, GeoJSON polygons.

Every file is written atomically (a hidden temporary file in the target's
folder renamed over the target), so an interrupted run leaves no half file.
GeoJSON features follow QuPath's layout (``objectType`` and a
``classification`` with ``name`` and ``color``), in level-0 pixel coordinates.
"""
from typing import Dict, Mapping, Optional, Sequence, Tuple

import cv2
import numpy as np

from epsam.fileio.atomic_io import atomic_output, atomic_write_bytes, atomic_write_json

from .errors import MissingDependencyError
from .geometry import geometry_dict, mask_polygons

__all__ = ['write_png', 'heatmap_overlay', 'write_pyramidal_tiff',
           'mask_to_geojson', 'write_geojson', 'DEFAULT_CLASSES']

#: Label value -> (QuPath class name, RGB colour).
DEFAULT_CLASSES: Dict[int, Tuple[str, Tuple[int, int, int]]] = {1: ('Tumor', (200, 0, 0))}


def write_png(path: str, image: np.ndarray) -> None:
    """Write an RGB uint8 ``(H, W, 3)`` or gray ``(H, W)`` image as PNG, atomically."""
    image = np.asarray(image)
    if image.ndim == 3:
        image = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode('.png', image)
    if not ok:
        raise OSError(f'{path}: PNG encoding failed for an image of shape {image.shape}')
    atomic_write_bytes(path, data.tobytes())


def heatmap_overlay(background: np.ndarray, prob: np.ndarray,
                    coverage: Optional[np.ndarray] = None, alpha: float = 0.5) -> np.ndarray:
    """A probability map in the jet colour map blended over a slide picture.

    Args:
        background: RGB uint8 ``(h, w, 3)`` (e.g. the slide's thumbnail).
        prob: ``(H, W)`` probabilities in [0, 1] over the whole slide (resized to ``(h, w)``).
        coverage: ``(H, W)`` bool, where ``prob`` was predicted; None = everywhere.
        alpha: Opacity of the colours over covered pixels.

    Returns:
        np.ndarray: RGB uint8 ``(h, w, 3)``.
    """
    height, width = background.shape[:2]
    prob = cv2.resize(np.asarray(prob, np.float32), (width, height),
                      interpolation=cv2.INTER_LINEAR)
    covered = np.ones((height, width), bool) if coverage is None else cv2.resize(
        coverage.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST).astype(bool)
    colours = cv2.applyColorMap(np.rint(np.clip(prob, 0, 1) * 255).astype(np.uint8),
                                cv2.COLORMAP_JET)[..., ::-1].astype(np.float32)
    out = background.astype(np.float32)
    out[covered] = (1 - alpha) * out[covered] + alpha * colours[covered]
    return np.rint(out).astype(np.uint8)


def write_pyramidal_tiff(path: str, mask: np.ndarray, mpp: Optional[float] = None,
                         tile_size: int = 256, min_level_size: int = 256) -> int:
    """Write a label mask as a tiled, zlib-compressed pyramidal TIFF that OpenSlide,
    tiffslide and QuPath open with every level.

    Levels are consecutive top-level IFDs (OpenSlide's generic tiled TIFF:
    every level tiled with the same tile size; the reduced ones flagged
    ``NewSubfileType = 1``), not SubIFDs, which OpenSlide does not read. Each
    level halves the previous one by nearest-neighbour sampling (labels stay
    labels) until its longest side is below ``min_level_size``.

    Args:
        path: Output ``.tif``.
        mask: ``(H, W)`` uint8 labels.
        mpp: Microns per pixel of ``mask`` (stored as the TIFF resolution), or None.
        tile_size: TIFF tile side, a multiple of 16.
        min_level_size: Stop halving below this size.

    Returns:
        int: The number of levels written.
    """
    try:
        import tifffile
    except ImportError:
        raise MissingDependencyError('tifffile', 'Writing pyramidal TIFF masks') from None
    mask = np.ascontiguousarray(mask, dtype=np.uint8)
    if mask.ndim != 2:
        raise ValueError(f'{path}: the label mask must be (H, W), got shape {mask.shape}')
    levels = [mask]
    while max(levels[-1].shape) // 2 >= min_level_size:
        levels.append(np.ascontiguousarray(levels[-1][::2, ::2]))
    options = dict(tile=(tile_size, tile_size), compression='zlib', photometric='minisblack')
    with atomic_output(path) as tmp_path:
        with tifffile.TiffWriter(tmp_path, bigtiff=mask.size > 2 ** 31) as writer:
            for index, level in enumerate(levels):
                extra = dict(subfiletype=1 if index else 0)
                if mpp:
                    per_cm = 1e4 / (mpp * 2 ** index)
                    extra.update(resolution=(per_cm, per_cm), resolutionunit='CENTIMETER')
                writer.write(level, **options, **extra)
    return len(levels)


def mask_to_geojson(mask: np.ndarray, scale: Tuple[float, float] = (1.0, 1.0),
                    classes: Mapping[int, Tuple[str, Sequence[int]]] = DEFAULT_CLASSES,
                    min_area: float = 0.0) -> dict:
    """Polygons of a label mask as a GeoJSON FeatureCollection QuPath imports.

    Each region becomes one valid shapely polygon (:func:`mask_polygons`:
    outlines through the centres of its border pixels, holes kept, regions
    touching at a corner repaired into a MultiPolygon), written with
    ``shapely.geometry.mapping``.

    Args:
        mask: ``(H, W)`` uint8 labels.
        scale: ``(sx, sy)`` level-0 pixels per mask pixel (coordinates are level 0).
        classes: Label value -> (class name, RGB colour); other values are ignored.
        min_area: Drop polygons whose area (in mask pixels, holes included) is smaller.
    """
    features = []
    for value, (name, colour) in sorted(classes.items()):
        for polygon in mask_polygons(np.asarray(mask) == value, min_area):
            features.append(dict(
                type='Feature', geometry=geometry_dict(polygon, scale),
                properties=dict(objectType='annotation', classification=dict(
                    name=name, color=[int(c) for c in colour]))))
    return dict(type='FeatureCollection', features=features)


def write_geojson(path: str, collection: dict) -> None:
    """Write a FeatureCollection atomically."""
    atomic_write_json(path, collection)

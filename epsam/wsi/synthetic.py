"""Small synthetic whole-slide images and annotations, for tests, demos and benchmarks.

A slide is white glass with a pink rectangle of tissue and a purple
rectangle of tumour inside it, written as a tiled pyramidal TIFF (one page
per level, zlib) that OpenSlide and tiffslide both read. Annotation writers
produce the ASAP/Camelyon XML and QuPath GeoJSON of given polygons.
"""
import json
import os
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from epsam.fileio.atomic_io import atomic_output

from .errors import MissingDependencyError

__all__ = ['TISSUE_RGB', 'TUMOUR_RGB', 'synthetic_slide_image', 'write_pyramidal_slide',
           'write_asap_xml', 'write_qupath_geojson', 'box_polygon']

TISSUE_RGB = (235, 160, 205)
TUMOUR_RGB = (150, 60, 160)
Box = Tuple[int, int, int, int]


def box_polygon(box: Box) -> np.ndarray:
    """The four corners of a level-0 box ``(x, y, width, height)`` as ``(4, 2)`` points."""
    x, y, w, h = box
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float64)


def synthetic_slide_image(size: Tuple[int, int], tissue_box: Optional[Box],
                          tumour_box: Optional[Box] = None, noise: int = 6,
                          seed: int = 0) -> np.ndarray:
    """Level-0 RGB uint8 ``(height, width, 3)``: white, a tissue box and a tumour box.

    Args:
        size: ``(width, height)`` in pixels.
        tissue_box: ``(x, y, width, height)`` of the tissue, or None (blank slide).
        tumour_box: ``(x, y, width, height)`` of the tumour, or None.
        noise: Amplitude of the uniform noise added to the tissue (0 = flat colours).
        seed: Noise seed.
    """
    width, height = size
    image = np.full((height, width, 3), 250, np.uint8)
    rng = np.random.default_rng(seed)
    for box, colour in ((tissue_box, TISSUE_RGB), (tumour_box, TUMOUR_RGB)):
        if box is None:
            continue
        x, y, w, h = box
        patch = np.broadcast_to(np.asarray(colour, np.int16), (h, w, 3))
        if noise:
            patch = patch + rng.integers(-noise, noise + 1, (h, w, 1), dtype=np.int16)
        image[y:y + h, x:x + w] = np.clip(patch, 0, 255).astype(np.uint8)
    return image


def write_pyramidal_slide(path: str, image: np.ndarray, levels: int = 3, factor: int = 4,
                          tile_size: int = 256, mpp: Optional[float] = 0.25) -> None:
    """Write an RGB image as a tiled pyramidal TIFF slide (atomically).

    Args:
        path: Output ``.tif``.
        image: Level-0 RGB uint8 ``(H, W, 3)``.
        levels: Number of pyramid levels.
        factor: Downsample between consecutive levels.
        tile_size: TIFF tile side (multiple of 16).
        mpp: Microns per level-0 pixel stored as the resolution, or None.
    """
    try:
        import tifffile
    except ImportError:
        raise MissingDependencyError('tifffile', 'Writing synthetic slides') from None
    with atomic_output(path) as tmp_path:
        with tifffile.TiffWriter(tmp_path) as writer:
            level = np.ascontiguousarray(image)
            for index in range(levels):
                extra = {}
                if mpp:
                    per_cm = 1e4 / (mpp * factor ** index)
                    extra = dict(resolution=(per_cm, per_cm), resolutionunit='CENTIMETER')
                writer.write(level, tile=(tile_size, tile_size), compression='zlib',
                             photometric='rgb', subfiletype=0 if index == 0 else 1, **extra)
                size = (level.shape[1] // factor, level.shape[0] // factor)
                if min(size) < 1:
                    break
                level = cv2.resize(level, size, interpolation=cv2.INTER_AREA)


def write_asap_xml(path: str, polygons: Sequence[np.ndarray],
                   groups: Optional[Sequence[str]] = None) -> None:
    """Write polygons as an ASAP / Camelyon16 annotation XML.

    Args:
        path: Output ``.xml``.
        polygons: ``(N, 2)`` level-0 ``(x, y)`` vertices each.
        groups: ``PartOfGroup`` of each polygon (Camelyon16: ``_0``/``_1`` tumour,
            ``_2`` exclusion); default ``_0``.
    """
    groups = list(groups) if groups is not None else ['_0'] * len(polygons)
    lines = ['<?xml version="1.0"?>', '<ASAP_Annotations>', '  <Annotations>']
    for index, (polygon, group) in enumerate(zip(polygons, groups)):
        lines.append(f'    <Annotation Name="Annotation {index}" Type="Polygon" '
                     f'PartOfGroup="{group}" Color="#F4FA58">')
        lines.append('      <Coordinates>')
        lines += [f'        <Coordinate Order="{order}" X="{x}" Y="{y}" />'
                  for order, (x, y) in enumerate(np.asarray(polygon).tolist())]
        lines += ['      </Coordinates>', '    </Annotation>']
    lines += ['  </Annotations>', '  <AnnotationGroups>']
    lines += [f'    <Group Name="{g}" PartOfGroup="None" Color="#64FE2E"><Attributes /></Group>'
              for g in sorted(set(groups))]
    lines += ['  </AnnotationGroups>', '</ASAP_Annotations>', '']
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as stream:
        stream.write('\n'.join(lines))


def write_qupath_geojson(path: str, polygons: Sequence[Sequence[np.ndarray]],
                         classes: Optional[Sequence[str]] = None) -> None:
    """Write polygons (each a list of rings: exterior, then holes) as QuPath GeoJSON.

    Args:
        path: Output ``.geojson``.
        polygons: Per polygon, a list of ``(N, 2)`` rings (exterior first).
        classes: Classification name of each polygon; default ``'Tumor'``.
    """
    classes = list(classes) if classes is not None else ['Tumor'] * len(polygons)
    features = []
    for rings, name in zip(polygons, classes):
        coords = [np.vstack([ring, ring[:1]]).tolist() for ring in rings]
        features.append(dict(type='Feature', geometry=dict(type='Polygon', coordinates=coords),
                             properties=dict(objectType='annotation',
                                             classification=dict(name=name))))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as stream:
        json.dump(dict(type='FeatureCollection', features=features), stream)

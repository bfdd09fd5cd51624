"""Tumour annotations: Camelyon/ASAP XML and GeoJSON (QuPath) polygons -> masks.

Polygons keep level-0 ``(x, y)`` coordinates. An annotation whose group (ASAP
``PartOfGroup``) or classification (QuPath) is in ``exclude_groups`` is an
exclusion region (Camelyon16's ``_2`` group): it is cleared from the tumour
mask, as GeoJSON polygon holes are. Rasterising follows the pixel-centre rule:
a mask pixel is set when its centre lies inside the polygon (shapely's
``contains_xy`` on the pixel centres; self-crossing rings are repaired with
``make_valid``), so a rectangle whose corners fall on mask pixel edges is
rasterised exactly.
"""
import json
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Iterable, List, Optional, Sequence, Tuple

import numpy as np

from .errors import AnnotationError
from .geometry import fill_polygon, make_polygon

__all__ = ['AnnotationPolygon', 'SlideAnnotations', 'load_annotations', 'TumourFractionRule',
           'DEFAULT_EXCLUDE_GROUPS']

#: Groups / classes that mark exclusion regions (compared case-insensitively).
DEFAULT_EXCLUDE_GROUPS = ('_2', 'Exclusion', 'Ignore')


@dataclass
class AnnotationPolygon:
    """One annotated polygon.

    Args:
        exterior: ``(N, 2)`` float level-0 ``(x, y)`` vertices (N >= 3).
        holes: Interior rings, each ``(M, 2)``.
        group: ASAP group or QuPath class name.
        name: Annotation name (for messages).
        exclude: True for exclusion regions.
    """

    exterior: np.ndarray
    holes: Tuple[np.ndarray, ...] = ()
    group: str = ''
    name: str = ''
    exclude: bool = False

    @property
    def bounds(self) -> Tuple[float, float, float, float]:
        """``(x_min, y_min, x_max, y_max)`` in level-0 pixels."""
        return (*self.exterior.min(axis=0).tolist(), *self.exterior.max(axis=0).tolist())


@dataclass
class SlideAnnotations:
    """The polygons of one annotation file.

    Args:
        path: The file they came from.
        polygons: Tumour polygons and exclusion regions.
    """

    path: str
    polygons: List[AnnotationPolygon] = field(default_factory=list)

    def check_within(self, width: int, height: int) -> None:
        """Raise :class:`AnnotationError` when a polygon lies wholly outside a
        ``width`` x ``height`` (level-0) slide."""
        for polygon in self.polygons:
            x0, y0, x1, y1 = polygon.bounds
            if x1 < 0 or y1 < 0 or x0 >= width or y0 >= height:
                raise AnnotationError(
                    self.path, f'annotation {polygon.name!r} (group {polygon.group!r}) lies '
                    f'outside the slide ({width}x{height} px at level 0): its bounds are '
                    f'x {x0:.0f}..{x1:.0f}, y {y0:.0f}..{y1:.0f}; is it for another slide?')

    def rasterize(self, x: float, y: float, width: int, height: int,
                  downsample: float = 1.0) -> np.ndarray:
        """Tumour mask of a window.

        Args:
            x, y: Window's top-left in level-0 pixels.
            width, height: Window size in output pixels.
            downsample: Level-0 pixels per output pixel.

        Returns:
            np.ndarray: ``(height, width)`` uint8, 1 = tumour, 0 = not.
        """
        out = np.zeros((int(height), int(width)), np.uint8)
        for exclude in (False, True):
            for polygon in self.polygons:
                if polygon.exclude == exclude:
                    _paint(out, polygon, x, y, downsample, value=0 if exclude else 1)
        return out

    def fraction(self, x: float, y: float, size: int, downsample: float = 1.0) -> float:
        """Tumour fraction of a square window (see :meth:`rasterize`)."""
        return float(self.rasterize(x, y, size, size, downsample).mean())


def _paint(out: np.ndarray, polygon: AnnotationPolygon, x: float, y: float,
           downsample: float, value: int) -> None:
    """Set the pixels of ``out`` whose centre is inside ``polygon`` (minus its holes)."""
    rings = [(ring - (x, y)) / downsample for ring in (polygon.exterior, *polygon.holes)]
    inside = fill_polygon(make_polygon(rings[0], rings[1:]), *out.shape)
    out[inside] = value


def _is_excluded(group: str, exclude_groups: Iterable[str]) -> bool:
    return group.lower() in {g.lower() for g in exclude_groups}


def _ring(points, path: str, where: str) -> Optional[np.ndarray]:
    try:
        ring = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise AnnotationError(path, f'{where}: coordinates are not numbers') from None
    if ring.ndim != 2 or ring.shape[1] < 2:
        raise AnnotationError(path, f'{where}: expected a list of (x, y) points, '
                              f'got shape {ring.shape}')
    ring = ring[:, :2]
    if not np.isfinite(ring).all():
        raise AnnotationError(path, f'{where}: coordinates hold NaN or infinity')
    return ring if len(ring) >= 3 else None


def _parse_asap_xml(path: str, exclude_groups: Sequence[str]) -> List[AnnotationPolygon]:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as error:
        raise AnnotationError(path, f'is not valid XML ({error})') from None
    if root.find('.//Annotation') is None and root.tag != 'ASAP_Annotations':
        raise AnnotationError(path, 'is not an ASAP/Camelyon annotation file (no <Annotation>)')
    polygons = []
    for index, node in enumerate(root.iter('Annotation')):
        name = node.get('Name', f'#{index}')
        group = node.get('PartOfGroup', '') or ''
        coords = sorted(node.iter('Coordinate'), key=lambda c: float(c.get('Order', 0)))
        try:
            points = [(float(c.get('X').replace(',', '.')), float(c.get('Y').replace(',', '.')))
                      for c in coords]
        except (TypeError, ValueError, AttributeError):
            raise AnnotationError(path, f'annotation {name!r}: a Coordinate lacks a numeric X '
                                  'or Y') from None
        ring = _ring(points, path, f'annotation {name!r}') if points else None
        if ring is not None:  # dots and lines (< 3 points) have no area
            polygons.append(AnnotationPolygon(ring, (), group, name,
                                              _is_excluded(group, exclude_groups)))
    return polygons


def _geojson_class(properties: dict) -> str:
    classification = properties.get('classification')
    if isinstance(classification, dict):
        return str(classification.get('name', ''))
    if isinstance(classification, str):
        return classification
    return str(properties.get('name', '') or '')


def _parse_geojson(path: str, exclude_groups: Sequence[str]) -> List[AnnotationPolygon]:
    try:
        with open(path, encoding='utf-8') as stream:
            data = json.load(stream)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise AnnotationError(path, f'is not valid JSON ({error})') from None
    if isinstance(data, dict) and data.get('type') == 'FeatureCollection':
        features = data.get('features', [])
    elif isinstance(data, dict) and data.get('type') == 'Feature':
        features = [data]
    elif isinstance(data, dict) and 'coordinates' in data:
        features = [dict(type='Feature', geometry=data, properties={})]
    elif isinstance(data, list):
        features = data
    else:
        raise AnnotationError(path, 'is not GeoJSON (expected a FeatureCollection, a Feature, '
                              'a geometry or a list of features)')
    polygons = []
    for index, feature in enumerate(features):
        if not isinstance(feature, dict):
            raise AnnotationError(path, f'feature #{index} is not an object')
        geometry = feature.get('geometry') or {}
        properties = feature.get('properties') or {}
        group = _geojson_class(properties)
        name = str(properties.get('name') or feature.get('id') or f'#{index}')
        kind = geometry.get('type')
        if kind == 'Polygon':
            parts = [geometry.get('coordinates') or []]
        elif kind == 'MultiPolygon':
            parts = geometry.get('coordinates') or []
        else:
            continue  # points and lines have no area
        for part in parts:
            if not part:
                continue
            rings = [_ring(r, path, f'feature {name!r}') for r in part]
            if rings[0] is None:
                continue
            holes = tuple(r for r in rings[1:] if r is not None)
            polygons.append(AnnotationPolygon(rings[0], holes, group, name,
                                              _is_excluded(group, exclude_groups)))
    return polygons


def load_annotations(path: str,
                     exclude_groups: Sequence[str] = DEFAULT_EXCLUDE_GROUPS,
                     include_groups: Optional[Sequence[str]] = None) -> SlideAnnotations:
    """Read an ASAP/Camelyon XML or a GeoJSON (QuPath) annotation file.

    Args:
        path: ``.xml`` or ``.geojson`` / ``.json`` file.
        exclude_groups: Group / class names of exclusion regions.
        include_groups: Group / class names that are tumour; None = every
            group that is not excluded.

    Raises:
        AnnotationError: Missing, unparseable or malformed file.
    """
    if not os.path.isfile(path):
        raise AnnotationError(path, 'does not exist or is not a file')
    suffix = os.path.splitext(path)[1].lower()
    if suffix == '.xml':
        polygons = _parse_asap_xml(path, exclude_groups)
    elif suffix in ('.geojson', '.json'):
        polygons = _parse_geojson(path, exclude_groups)
    else:
        raise AnnotationError(path, f'unknown annotation format {suffix!r}; use ASAP/Camelyon '
                              '.xml or QuPath .geojson')
    if include_groups is not None:
        wanted = {g.lower() for g in include_groups}
        polygons = [p for p in polygons if p.exclude or p.group.lower() in wanted]
    return SlideAnnotations(str(path), polygons)


@dataclass(frozen=True)
class TumourFractionRule:
    """Patch label from its tumour fraction (EP-SAM: positives need 20-90 % tumour).

    A fraction of 0 gives label 0; a fraction in ``[low, high]`` gives 1; any
    other fraction gives ``None`` (skip the patch) with ``outside='skip'``, or
    1 with ``outside='positive'``.

    Args:
        low: Smallest tumour fraction of a positive patch.
        high: Largest tumour fraction of a positive patch.
        outside: ``'skip'`` or ``'positive'``.
    """

    low: float = 0.2
    high: float = 0.9
    outside: str = 'skip'

    def __post_init__(self) -> None:
        if not 0.0 <= self.low <= self.high <= 1.0:
            raise ValueError(f'tumour fraction rule needs 0 <= low <= high <= 1, '
                             f'got {self.low}, {self.high}')
        if self.outside not in ('skip', 'positive'):
            raise ValueError(f'outside must be "skip" or "positive", got {self.outside!r}')

    def __call__(self, fraction: float) -> Optional[int]:
        if fraction <= 0.0:
            return 0
        if self.low <= fraction <= self.high:
            return 1
        return None if self.outside == 'skip' else 1

"""Polygon geometry through shapely: valid polygons, pixel-centre rasterising, mask outlines.

``shapely`` (GEOS) is optional like the slide backends: it is imported when a
polygon is built, so ``import epsam`` never needs it.
"""
from typing import List, Sequence, Tuple

import cv2
import numpy as np

from .errors import MissingDependencyError

__all__ = ['make_polygon', 'fill_polygon', 'mask_polygons', 'geometry_dict']

SHAPELY_PIP = 'shapely'


def _shapely():
    try:
        import shapely
    except ImportError:
        raise MissingDependencyError(SHAPELY_PIP, 'Polygon geometry (annotations, GeoJSON)') \
            from None
    return shapely


def _polygonal(geometry):
    """The polygonal part of a geometry (make_valid may add lines or points)."""
    shapely = _shapely()
    parts = [g for g in shapely.get_parts(geometry)
             if g.geom_type in ('Polygon', 'MultiPolygon') and not g.is_empty]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def make_polygon(exterior: np.ndarray, holes: Sequence[np.ndarray] = ()):
    """A valid shapely (Multi)Polygon from an exterior ring and hole rings.

    Invalid input (a self-crossing or self-touching ring) is repaired with
    ``shapely.make_valid`` (a bow-tie becomes its two lobes).
    """
    shapely = _shapely()
    polygon = shapely.Polygon(np.asarray(exterior, np.float64),
                              [np.asarray(h, np.float64) for h in holes if len(h) >= 3])
    return polygon if polygon.is_valid else _polygonal(shapely.make_valid(polygon))


def fill_polygon(polygon, height: int, width: int) -> np.ndarray:
    """Pixels whose centre ``(col + 0.5, row + 0.5)`` lies inside ``polygon``.

    Args:
        polygon: shapely (Multi)Polygon in the pixel frame of the output.
        height, width: Output size.

    Returns:
        np.ndarray: ``(height, width)`` bool.
    """
    shapely = _shapely()
    out = np.zeros((height, width), bool)
    if polygon.is_empty or height < 1 or width < 1:
        return out
    x0, y0, x1, y1 = polygon.bounds
    c0, r0 = max(int(np.floor(x0)), 0), max(int(np.floor(y0)), 0)
    c1, r1 = min(int(np.ceil(x1)), width), min(int(np.ceil(y1)), height)
    if c1 <= c0 or r1 <= r0:
        return out
    rows, cols = np.mgrid[r0:r1, c0:c1] + 0.5
    shapely.prepare(polygon)
    out[r0:r1, c0:c1] = shapely.contains_xy(polygon, cols, rows)
    return out


def _contour_polygon(exterior: np.ndarray, holes: List[np.ndarray]):
    """Polygon of a contour through pixel centres; thin contours become their pixels' outline."""
    shapely = _shapely()
    if len(exterior) >= 3 and shapely.Polygon(exterior).area > 0:
        return make_polygon(exterior, holes)
    # a dot or a one-pixel-wide line: the outline of its pixels
    line = shapely.MultiPoint(exterior) if len(exterior) < 2 else shapely.LineString(exterior)
    return line.buffer(0.5, cap_style='square', join_style='mitre')


def mask_polygons(binary: np.ndarray, min_area: float = 0.0) -> list:
    """Valid polygons of a binary mask's regions, in mask pixel coordinates.

    Outlines run through the centres of each region's border pixels
    (``cv2.findContours``, ``RETR_CCOMP``); interior holes become polygon
    holes.

    Args:
        binary: ``(H, W)`` mask (non-zero = inside).
        min_area: Drop regions whose outline encloses less (mask pixels, holes included).

    Returns:
        list: shapely Polygons / MultiPolygons.
    """
    binary = np.ascontiguousarray(np.asarray(binary) != 0, np.uint8)
    contours, hierarchy = cv2.findContours(binary, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    rings = [c.reshape(-1, 2).astype(np.float64) + 0.5 for c in contours]
    polygons = []
    for index, (_, _, first_child, parent) in enumerate(hierarchy[0]):
        if parent != -1 or cv2.contourArea(contours[index]) < min_area:
            continue
        holes, child = [], first_child
        while child != -1:
            if len(rings[child]) >= 3:
                holes.append(rings[child])
            child = hierarchy[0][child][0]
        polygon = _contour_polygon(rings[index], holes)
        if not polygon.is_empty:
            polygons.append(polygon)
    return polygons


def geometry_dict(polygon, scale: Tuple[float, float] = (1.0, 1.0), decimals: int = 3) -> dict:
    """GeoJSON geometry of a shapely polygon, coordinates scaled by ``(sx, sy)`` and rounded.

    Exteriors run counter-clockwise and holes clockwise (RFC 7946).
    """
    shapely = _shapely()
    factor = np.asarray(scale, np.float64)
    scaled = shapely.transform(polygon, lambda xy: np.round(xy * factor, decimals))
    parts = [shapely.geometry.polygon.orient(p, 1.0) for p in shapely.get_parts(scaled)]
    oriented = parts[0] if scaled.geom_type == 'Polygon' else shapely.MultiPolygon(parts)
    return shapely.geometry.mapping(oriented)

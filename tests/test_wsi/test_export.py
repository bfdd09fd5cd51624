import json

import cv2
import numpy as np
import pytest

from epsam.wsi import heatmap_overlay, mask_to_geojson, write_png, write_pyramidal_tiff

tifffile = pytest.importorskip('tifffile')


def _polygon_area(ring):
    ring = np.asarray(ring)
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))


def test_pyramidal_tiff_reads_back(tmp_path):
    mask = np.zeros((1000, 600), np.uint8)
    mask[100:500, 50:300] = 1
    path = tmp_path / 'mask.tif'
    levels = write_pyramidal_tiff(str(path), mask, mpp=2.0, min_level_size=128)
    assert levels == 3
    with tifffile.TiffFile(str(path)) as tif:
        series = tif.series[0]
        assert [lvl.shape for lvl in series.levels] == [(1000, 600), (500, 300), (250, 150)]
        np.testing.assert_array_equal(series.levels[0].asarray(), mask)
        np.testing.assert_array_equal(series.levels[2].asarray(), mask[::4, ::4])
        page = tif.pages[0]
        assert page.is_tiled and page.tags['XResolution'].value[0] > 0
    assert [p.name for p in tmp_path.iterdir()] == ['mask.tif']


def test_geojson_polygons_and_area():
    mask = np.zeros((200, 300), np.uint8)
    mask[20:120, 40:200] = 1     # 100 x 160 box with a 20 x 40 hole
    mask[50:70, 80:120] = 0
    mask[150:151, 10:11] = 1     # a single pixel
    collection = json.loads(json.dumps(mask_to_geojson(mask, scale=(4.0, 4.0))))
    assert collection['type'] == 'FeatureCollection' and len(collection['features']) == 2
    big = max(collection['features'], key=lambda f: _polygon_area(
        f['geometry']['coordinates'][0]))
    rings = big['geometry']['coordinates']
    assert big['properties']['classification']['name'] == 'Tumor'
    assert big['properties']['objectType'] == 'annotation'
    assert len(rings) == 2 and rings[0][0] == rings[0][-1]
    area = _polygon_area(rings[0]) - _polygon_area(rings[1])
    true_area = (100 * 160 - 20 * 40) * 16  # level-0 px
    # outlines run through border pixel centres: off by about half a pixel per side
    assert area == pytest.approx(true_area, rel=0.03)
    xs = np.asarray(rings[0])[:, 0]
    assert xs.min() == pytest.approx(40.5 * 4) and xs.max() == pytest.approx(199.5 * 4)
    small = min(collection['features'], key=lambda f: _polygon_area(
        f['geometry']['coordinates'][0]))
    assert _polygon_area(small['geometry']['coordinates'][0]) == pytest.approx(16.0)
    assert len(mask_to_geojson(mask, min_area=10)['features']) == 1
    assert mask_to_geojson(np.zeros((5, 5), np.uint8))['features'] == []


def test_heatmap_and_png(tmp_path):
    background = np.full((50, 80, 3), 200, np.uint8)
    prob = np.zeros((10, 16), np.float32)
    prob[:, 8:] = 1.0
    coverage = np.zeros((10, 16), bool)
    coverage[:5] = True
    overlay = heatmap_overlay(background, prob, coverage)
    assert overlay.shape == (50, 80, 3) and overlay.dtype == np.uint8
    assert (overlay[30:] == 200).all()  # not covered
    assert overlay[5, 70, 0] > overlay[5, 70, 2]  # p = 1 is red in jet
    assert overlay[5, 5, 2] > overlay[5, 5, 0]  # p = 0 is blue
    write_png(str(tmp_path / 'h.png'), overlay)
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / 'h.png'))[..., ::-1], overlay)


def test_pyramid_opens_with_every_level_in_openslide_and_tiffslide(tmp_path):
    mask = np.zeros((700, 1100), np.uint8)
    mask[100:300, 200:900] = 1
    path = str(tmp_path / 'mask.tif')
    assert write_pyramidal_tiff(path, mask, mpp=4.0, min_level_size=128) == 4
    sizes = ((1100, 700), (550, 350), (275, 175), (138, 88))
    tiffslide = pytest.importorskip('tiffslide')
    with tiffslide.TiffSlide(path) as slide:
        assert slide.level_count == 4 and slide.level_dimensions == sizes
    openslide = pytest.importorskip('openslide')
    with openslide.OpenSlide(path) as slide:
        assert slide.level_count == 4 and slide.level_dimensions == sizes
        assert float(slide.properties['openslide.mpp-x']) == pytest.approx(4.0)
        level2 = np.asarray(slide.read_region((0, 0), 2, sizes[2]))[..., 0]
        np.testing.assert_array_equal(level2, mask[::4, ::4])


def test_geojson_polygons_are_valid_shapely_geometry():
    """Regions touching at a corner gave a self-touching ring; now a valid MultiPolygon."""
    shapely = pytest.importorskip('shapely')
    mask = np.zeros((40, 40), np.uint8)
    mask[5:15, 5:15] = 1
    mask[15:25, 15:25] = 1  # touches the first square at one corner pixel
    mask[30, 5:20] = 1      # a one-pixel-wide line
    features = mask_to_geojson(mask)['features']
    geometries = [shapely.geometry.shape(f['geometry']) for f in features]
    assert all(g.is_valid and g.area > 0 for g in geometries)
    assert sum(g.area for g in geometries) == pytest.approx(9 * 9 * 2 + 1 + 15, abs=3)
    line = min(geometries, key=lambda g: g.area)
    assert line.area == pytest.approx(15.0)  # the outline of its 15 pixels

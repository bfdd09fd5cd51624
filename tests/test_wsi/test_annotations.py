import json

import numpy as np
import pytest

from epsam.wsi import AnnotationError, TumourFractionRule, load_annotations
from epsam.wsi.geometry import fill_polygon, make_polygon
from epsam.wsi.synthetic import box_polygon, write_asap_xml, write_qupath_geojson

from .conftest import TUMOUR_BOX


def _box_mask(shape, box, downsample):
    x, y, w, h = (int(v / downsample) for v in box)
    mask = np.zeros(shape, np.uint8)
    mask[y:y + h, x:x + w] = 1
    return mask


@pytest.mark.parametrize('fixture', ['xml_path', 'geojson_path'])
@pytest.mark.parametrize('downsample', [1.0, 4.0, 16.0])
def test_rectangle_is_rasterised_exactly(request, fixture, downsample):
    annotations = load_annotations(str(request.getfixturevalue(fixture)))
    assert len(annotations.polygons) == 1 and not annotations.polygons[0].exclude
    size = int(2048 / downsample)
    mask = annotations.rasterize(0, 0, size, size, downsample)
    np.testing.assert_array_equal(mask, _box_mask((size, size), TUMOUR_BOX, downsample))


def test_window_and_fraction(xml_path):
    annotations = load_annotations(str(xml_path))
    window = annotations.rasterize(768, 512, 128, 128, 4.0)  # level-0 768..1280, 512..1024
    expected = np.zeros((128, 128), np.uint8)
    expected[64:, :64] = 1  # tumour x 768..1024, y 768..1024
    np.testing.assert_array_equal(window, expected)
    assert annotations.fraction(768, 512, 128, 4.0) == pytest.approx(0.25)
    assert annotations.fraction(0, 0, 256, 1.0) == 0.0


def test_camelyon_exclusion_group(tmp_path):
    path = tmp_path / 'excl.xml'
    write_asap_xml(str(path), [box_polygon((0, 0, 100, 100)), box_polygon((20, 20, 30, 30)),
                               box_polygon((200, 0, 10, 10))], groups=['_0', '_2', '_1'])
    annotations = load_annotations(str(path))
    assert [p.exclude for p in annotations.polygons] == [False, True, False]
    mask = annotations.rasterize(0, 0, 256, 128)
    assert mask.sum() == 100 * 100 - 30 * 30 + 10 * 10
    assert mask[20:50, 20:50].sum() == 0
    only_1 = load_annotations(str(path), include_groups=['_1'])
    assert only_1.rasterize(0, 0, 256, 128).sum() == 100


def test_geojson_holes_multipolygon_and_exclusion(tmp_path):
    path = tmp_path / 'holes.geojson'
    write_qupath_geojson(str(path), [[box_polygon((0, 0, 64, 64)), box_polygon((16, 16, 16, 16))],
                                     [box_polygon((100, 0, 8, 8))]],
                         classes=['Tumor', 'Exclusion'])
    annotations = load_annotations(str(path))
    mask = annotations.rasterize(0, 0, 128, 64)
    assert mask.sum() == 64 * 64 - 16 * 16
    data = json.loads(path.read_text())
    data['features'][0]['geometry'] = dict(type='MultiPolygon', coordinates=[
        data['features'][0]['geometry']['coordinates'],
        [box_polygon((100, 32, 8, 8)).tolist()]])
    path.write_text(json.dumps(data))
    mask = load_annotations(str(path)).rasterize(0, 0, 128, 64)
    assert mask.sum() == 64 * 64 - 16 * 16 + 64 and mask[:8, 100:108].sum() == 0


def test_fill_matches_the_pixel_centre_rule():
    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[0:40, 0:40]
    for _ in range(10):
        triangle = rng.uniform(-5, 45, (3, 2))
        mask = fill_polygon(make_polygon(triangle), 40, 40)
        cx, cy = cols + 0.5, rows + 0.5
        (x1, y1), (x2, y2), (x3, y3) = triangle
        d1 = (cx - x2) * (y1 - y2) - (x1 - x2) * (cy - y2)
        d2 = (cx - x3) * (y2 - y3) - (x2 - x3) * (cy - y3)
        d3 = (cx - x1) * (y3 - y1) - (x3 - x1) * (cy - y1)
        inside = ~(((d1 < 0) | (d2 < 0) | (d3 < 0)) & ((d1 > 0) | (d2 > 0) | (d3 > 0)))
        on_edge = np.isclose(d1, 0) | np.isclose(d2, 0) | np.isclose(d3, 0)
        assert (mask != inside)[~on_edge].sum() == 0


def test_self_crossing_polygon_is_repaired_not_dropped(tmp_path):
    """A bow-tie (invalid ring) fills both lobes, as QuPath draws it."""
    bow_tie = np.array([[0, 0], [20, 20], [20, 0], [0, 20]], np.float64)
    assert make_polygon(bow_tie).is_valid
    path = tmp_path / 'bow.xml'
    write_asap_xml(str(path), [bow_tie])
    mask = load_annotations(str(path)).rasterize(0, 0, 20, 20)
    assert mask[10, 2] == 1 and mask[10, 17] == 1 and mask[2, 10] == 0
    assert mask.sum() == pytest.approx(200, abs=20)


def test_annotation_outside_the_slide(tmp_path):
    path = tmp_path / 'other_slide.xml'
    write_asap_xml(str(path), [box_polygon((5000, 5000, 100, 100))])
    with pytest.raises(AnnotationError, match=r'other_slide.xml: annotation .* lies outside '
                       r'the slide \(2048x2048'):
        load_annotations(str(path)).check_within(2048, 2048)
    write_asap_xml(str(path), [box_polygon((2000, 2000, 100, 100))])  # partly inside: fine
    load_annotations(str(path)).check_within(2048, 2048)


@pytest.mark.parametrize('name,text,match', [
    ('broken.xml', '<ASAP_Annotations><Annotations>', 'is not valid XML'),
    ('other.xml', '<svg></svg>', 'is not an ASAP/Camelyon annotation file'),
    ('nan.xml', '<ASAP_Annotations><Annotations><Annotation Name="a"><Coordinates>'
     '<Coordinate Order="0" X="1" /></Coordinates></Annotation></Annotations>'
     '</ASAP_Annotations>', 'lacks a numeric X or Y'),
    ('bad.geojson', '{"type": "Feature"', 'is not valid JSON'),
    ('bad.geojson', '{"type": "Topology"}', 'is not GeoJSON'),
    ('notes.txt', 'hello', 'unknown annotation format'),
])
def test_malformed_files(tmp_path, name, text, match):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(AnnotationError, match=f'{name}: .*{match}'):
        load_annotations(str(path))


def test_missing_file(tmp_path):
    with pytest.raises(AnnotationError, match='nothing.xml: does not exist'):
        load_annotations(str(tmp_path / 'nothing.xml'))


def test_tumour_fraction_rule():
    rule = TumourFractionRule(0.2, 0.9)
    assert [rule(f) for f in (0.0, 0.1, 0.2, 0.5, 0.9, 0.95)] == [0, None, 1, 1, 1, None]
    assert TumourFractionRule(0.2, 0.9, outside='positive')(0.1) == 1
    assert TumourFractionRule(0.0, 1.0)(0.01) == 1
    with pytest.raises(ValueError, match='0 <= low <= high <= 1'):
        TumourFractionRule(0.9, 0.2)
    with pytest.raises(ValueError, match='outside'):
        TumourFractionRule(outside='negative')

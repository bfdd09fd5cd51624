"""tools/wsi/extract_patches.py end to end (patch 128 px at level 1 = 512 level-0 px)."""
import re
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from epsam.wsi import read_coordinates_csv
from tests.conftest import run_tool

from .conftest import load_tool

TOOL = 'tools/wsi/extract_patches.py'
extract_tool = load_tool(TOOL)


def _main(args, capsys):
    code = extract_tool.main([str(a) for a in args])
    captured = capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=captured.out, stderr=captured.err)


def _run(slide, out, *extra, capsys):
    proc = _main([slide, '--out', out, '--patch-size', '128', '--level', '1', '--no-progress',
                  *extra], capsys)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.parametrize('fixture', ['xml_path', 'geojson_path'])
def test_patches_labels_masks_and_csv(request, slide_path, tmp_path, fixture, capsys):
    annotations = request.getfixturevalue(fixture)
    out = tmp_path / 'train'
    _run(slide_path, out, '--annotations', annotations, '--tumour-fraction', '0.2', '0.9',
         capsys=capsys)
    rows = read_coordinates_csv(str(out / 'coordinates.csv'))
    # tissue x 256..1536, y 256..1792; 512 px tiles with >= 50 % tissue
    assert sorted((r['x'], r['y']) for r in rows) == sorted(
        [(512, 0), (0, 512), (512, 512), (1024, 512), (0, 1024), (512, 1024), (1024, 1024),
         (512, 1536)])
    positive = [r for r in rows if r['label'] == 1]
    assert [(r['x'], r['y'], r['tumour_fraction']) for r in positive] == [(512, 512, 0.5)]
    assert all(r['level'] == 1 and r['size'] == 128 and r['slide'] == 'slide_a' for r in rows)
    images = sorted(p.name for p in (out / 'image').iterdir())
    assert len(images) == 8 and 'slide_a_512_512_1.png' in images
    assert [p.name for p in (out / 'mask').iterdir()] == ['slide_a_512_512_1.png']
    mask = cv2.imread(str(out / 'mask' / 'slide_a_512_512_1.png'), cv2.IMREAD_UNCHANGED)
    expected = np.zeros((128, 128), np.uint8)
    expected[64:128, 0:128] = 1  # tumour y 768..1024 of the 512..1024 tile
    np.testing.assert_array_equal(mask, expected)
    image = cv2.imread(str(out / 'image' / 'slide_a_512_512_1.png'))
    assert image.shape == (128, 128, 3)
    assert (out / 'thumbnails' / 'slide_a_tissue.png').is_file()
    assert not list(out.rglob('.*'))  # no temporary files left


def test_rule_skips_and_resume(slide_path, xml_path, tmp_path, capsys):
    out = tmp_path / 'train'
    _run(slide_path, out, '--annotations', xml_path, '--tumour-fraction', '0.6', '0.9',
         capsys=capsys)
    rows = read_coordinates_csv(str(out / 'coordinates.csv'))
    assert len(rows) == 7 and not any(r['label'] for r in rows)  # the 50 % tile is skipped
    first = (out / 'image' / 'slide_a_0_512_0.png').stat().st_mtime_ns
    proc = _run(slide_path, out, '--annotations', xml_path, '--tumour-fraction', '0.6', '0.9',
                capsys=capsys)
    assert '0 written, 7 already there, 1 skipped' in proc.stdout
    assert (out / 'image' / 'slide_a_0_512_0.png').stat().st_mtime_ns == first
    assert len(read_coordinates_csv(str(out / 'coordinates.csv'))) == 7


@pytest.mark.slow
def test_mpp_and_stride_through_the_command_line(slide_path, tmp_path):
    out = tmp_path / 'x'
    run_tool([TOOL, slide_path, '--out', out, '--patch-size', '64', '--mpp', '4.0',
              '--stride', '32', '--min-tissue', '1.0', '--no-progress'], timeout=300)
    rows = read_coordinates_csv(str(out / 'coordinates.csv'))
    # 64 px at 4 um/px = 1024 level-0 px (level 2, x16), stride 512; fully inside tissue:
    assert sorted((r['x'], r['y']) for r in rows) == [(512, 512)]
    assert rows[0]['level'] == 2 and rows[0]['label'] == 0


def test_no_tissue_gives_an_explicit_empty_result(blank_slide_path, tmp_path, capsys):
    out = tmp_path / 'blank'
    proc = _run(blank_slide_path, out, capsys=capsys)
    assert 'no tissue tile' in proc.stdout
    assert read_coordinates_csv(str(out / 'coordinates.csv')) == []
    assert not (out / 'image').exists()


@pytest.mark.parametrize('case', ['not_a_slide', 'bad_level', 'annotation_outside'])
def test_bad_input_fails_cleanly(slide_path, tmp_path, case, capsys):
    out = tmp_path / 'out'
    slide, extra = str(slide_path), []
    if case == 'not_a_slide':
        slide = tmp_path / 'slide.svs'
        slide.write_text('nope')
        expected = 'slide.svs: is not a whole-slide image'
    elif case == 'bad_level':
        extra = ['--level', '7']
        expected = 'slide_a.tif: has no level 7'
    else:
        from epsam.wsi.synthetic import box_polygon, write_asap_xml
        xml = tmp_path / 'far.xml'
        write_asap_xml(str(xml), [box_polygon((9000, 9000, 50, 50))])
        extra = ['--annotations', xml]
        expected = 'far.xml: annotation .* lies outside the slide'
    proc = _main([slide, '--out', out, '--no-progress', *extra], capsys)
    assert proc.returncode == 2
    assert re.search(expected, proc.stderr), proc.stderr
    assert not out.exists()

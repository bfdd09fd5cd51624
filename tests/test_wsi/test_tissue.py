import cv2
import numpy as np
import pytest

from epsam.wsi import LevelMask, TissueDetector, detect_tissue, open_slide, save_tissue_thumbnail

from .conftest import TISSUE_BOX


def _truth(shape, scale):
    x, y, w, h = (int(v / scale) for v in TISSUE_BOX)
    truth = np.zeros(shape, bool)
    truth[y:y + h, x:x + w] = True
    return truth


@pytest.mark.parametrize('level', [None, 1])
def test_detects_the_tissue_box(slide_path, level):
    with open_slide(str(slide_path)) as reader:
        tissue = TissueDetector(level=level)(reader)
    expected_level = 2 if level is None else 1
    assert tissue.level == expected_level
    scale = 4.0 ** expected_level
    assert tissue.scale == (scale, scale)
    truth = _truth(tissue.mask.shape, scale)
    iou = (truth & tissue.mask).sum() / (truth | tissue.mask).sum()
    assert iou > 0.9
    assert tissue.area_fraction == pytest.approx(truth.mean(), abs=0.02)


def test_blank_slide_gives_an_empty_mask(blank_slide_path):
    with open_slide(str(blank_slide_path)) as reader:
        tissue = detect_tissue(reader)
    assert tissue.is_empty and tissue.area_fraction == 0.0


def test_large_levels_are_shrunk(slide_path):
    with open_slide(str(slide_path)) as reader:
        tissue = TissueDetector(level=0, max_size=256)(reader)
    assert tissue.mask.shape == (256, 256) and tissue.level == -1
    assert tissue.scale == (8.0, 8.0)


def test_bad_parameters():
    with pytest.raises(ValueError, match='median_size must be odd'):
        TissueDetector(median_size=4)
    with pytest.raises(ValueError, match='min_threshold'):
        TissueDetector(min_threshold=300)


def test_level_mask_fractions_are_exact_on_mask_pixels():
    mask = np.zeros((8, 8), bool)
    mask[2:6, 2:6] = True
    level_mask = LevelMask(mask, (16.0, 16.0))
    boxes = np.array([[32, 32, 64, 64], [0, 0, 64, 64], [96, 96, 64, 64], [-64, -64, 64, 64]])
    np.testing.assert_allclose(level_mask.fractions(boxes), [1.0, 0.25, 0.0, 0.0])
    assert level_mask.fraction(64, 32, 64, 32) == pytest.approx(0.5)


def test_thumbnail_png(slide_path, tmp_path):
    out = tmp_path / 'thumbs' / 'a_tissue.png'
    with open_slide(str(slide_path)) as reader:
        save_tissue_thumbnail(str(out), reader, detect_tissue(reader), max_size=256)
    picture = cv2.imread(str(out))
    assert picture.shape == (256, 256, 3)
    assert not [p for p in out.parent.iterdir() if p.name.startswith('.')]

"""Trustworthy slide outputs: glass is never tumour, no speckles, no pinholes."""
import json

import numpy as np
import pytest

from epsam.wsi import (SlideStitcher, TileCache, WSIError, detect_tissue, open_slide, output_paths,
                       plan_tiles, predict_tiles, stitch_cached_tiles, tile_layout,
                       write_slide_outputs)
from epsam.wsi.postprocess import MaskCleaning, remove_small_regions

from .conftest import TISSUE_BOX


def test_small_regions_removed_and_small_holes_filled():
    mask = np.zeros((100, 100), bool)
    mask[10:60, 10:60] = True
    mask[30:33, 30:33] = False   # a 9 px hole
    mask[40:50, 20:30] = False   # a 100 px hole
    mask[80, 80] = True          # a speckle
    mask[80:90, 5:15] = True     # a 100 px region
    cleaned, changes = MaskCleaning(min_area_um2=50 * 4, min_hole_um2=50 * 4)(mask, mpp=2.0)
    # 2 um/px: 200 um^2 = 50 px
    assert cleaned[30:33, 30:33].all() and not cleaned[40:50, 20:30].any()
    assert not cleaned[80, 80] and cleaned[80:90, 5:15].all()
    assert changes == dict(outside_tissue=0, holes_filled=9, small_regions=1)
    np.testing.assert_array_equal(remove_small_regions(mask, 0), mask)


def test_tissue_masks_the_prediction_and_mpp_is_required():
    tumour = np.ones((20, 20), bool)
    tissue = np.zeros((20, 20), bool)
    tissue[:, :10] = True
    cleaned, changes = MaskCleaning(0, 0)(tumour, None, tissue)
    np.testing.assert_array_equal(cleaned, tissue)
    assert changes['outside_tissue'] == 200
    with pytest.raises(WSIError, match='slide.tif: has no microns-per-pixel metadata.*'
                       '--slide-mpp.*--min-area 0'):
        MaskCleaning().check_mpp('slide.tif', None)
    with pytest.raises(ValueError, match='µm²'):
        MaskCleaning(-1.0)


class EverythingIsTumour:
    """A predictor that calls every pixel tumour, glass included."""

    def __call__(self, tiles):
        return np.ones(tiles.shape[:3], np.float32)


@pytest.mark.parametrize('masked', [False, True])
def test_glass_is_never_tumour(slide_path, tmp_path, masked):
    with open_slide(str(slide_path)) as reader:
        layout = tile_layout(reader, 48, level=1)  # 192 px tiles straddle the tissue edge
        tissue = detect_tissue(reader)
        tiles = plan_tiles(reader, layout, tissue, min_tissue=0.1, cover_edges=True)
        stitcher = SlideStitcher(reader.dimensions, 16.0, reader.level_dimensions[2])
        cache = TileCache(str(tmp_path / 'tiles'), {})
        cache.prepare(write=True)
        predict_tiles(reader, layout, tiles, EverythingIsTumour(), stitcher, cache,
                      progress=False, workers=2)
        stitch_cached_tiles(tiles, layout, stitcher, cache)
        kwargs = dict(tissue=tissue, cleaning=MaskCleaning()) if masked else {}
        summary = write_slide_outputs(str(tmp_path), 'slide_a', reader, stitcher, 0.5,
                                      {}, **kwargs)
    x, y, w, h = (v // 16 for v in TISSUE_BOX)
    glass = np.ones((128, 128), bool)
    glass[y:y + h, x:x + w] = False
    tifffile = pytest.importorskip('tifffile')
    with tifffile.TiffFile(output_paths(str(tmp_path), 'slide_a')['mask']) as tif:
        labels = tif.series[0].levels[0].asarray().astype(bool)
    on_glass = (labels & glass).sum() / labels.sum()
    if masked:
        assert on_glass < 0.02 and summary['masked_by_tissue']
        assert summary['pixels_changed_by_cleaning']['outside_tissue'] > 0
    else:
        assert on_glass > 0.05
    features = json.load(open(output_paths(str(tmp_path), 'slide_a')['geojson']))['features']
    assert len(features) == 1

import numpy as np
import pytest

from epsam.wsi import LevelMask, Tile, open_slide, plan_tiles, read_tile, tile_layout
from epsam.wsi.synthetic import TUMOUR_RGB


def _tissue():
    # tissue x 256..1536, y 256..1792 on a 16 px grid
    mask = np.zeros((128, 128), bool)
    mask[16:112, 16:96] = True
    return LevelMask(mask, (16.0, 16.0), level=2)


def test_layout_at_level_and_mpp(slide_path):
    with open_slide(str(slide_path)) as reader:
        layout = tile_layout(reader, 128, level=1)
        assert (layout.level, layout.read_size, layout.size, layout.extent, layout.stride) == \
            (1, 128, 128, 512, 512)
        assert layout.downsample == 4.0
        layout = tile_layout(reader, 128, mpp=2.0, stride=64)  # x8: level 1 read, shrunk x2
        assert (layout.level, layout.read_size, layout.extent, layout.stride) == \
            (1, 256, 1024, 512)
        with pytest.raises(ValueError, match='not both'):
            tile_layout(reader, 128, level=1, mpp=1.0)
        with pytest.raises(ValueError, match='stride must be a positive int'):
            tile_layout(reader, 128, stride=0)


def test_exact_grid_inside_tissue(slide_path):
    with open_slide(str(slide_path)) as reader:
        layout = tile_layout(reader, 64, level=1)  # 256 px at level 0
        tiles = plan_tiles(reader, layout, _tissue(), min_tissue=1.0)
        expected = {(x, y) for x in range(256, 1536 - 255, 256)
                    for y in range(256, 1792 - 255, 256)}
        assert {(t.x, t.y) for t in tiles} == expected
        assert all(t.tissue_fraction == 1.0 for t in tiles)
        assert [(t.y, t.x) for t in tiles] == sorted((t.y, t.x) for t in tiles)  # row-major
        half = plan_tiles(reader, layout, _tissue(), min_tissue=0.5)
        assert len(half) == len(tiles)  # the tissue box lies on the 256 px grid
        everything = plan_tiles(reader, layout, None)
        assert len(everything) == 8 * 8


def test_overlap_and_edges(slide_path):
    with open_slide(str(slide_path)) as reader:
        layout = tile_layout(reader, 64, level=1, stride=48)  # extent 256, stride 192
        xs = sorted({t.x for t in plan_tiles(reader, layout, None)})
        assert xs == list(range(0, 2048 - 256 + 1, 192))
        covered = sorted({t.x for t in plan_tiles(reader, layout, None, cover_edges=True)})
        assert covered[-1] + 256 >= 2048 and covered[:-1] == xs


def test_read_tile(slide_path):
    with open_slide(str(slide_path)) as reader:
        layout = tile_layout(reader, 32, mpp=2.0)  # 64 px read at level 1, shrunk to 32
        image = read_tile(reader, layout, Tile(512, 768, 1.0))
        assert image.shape == (32, 32, 3)
        assert np.abs(image[:16, :].astype(int) - TUMOUR_RGB).max() <= 6


def test_min_tissue_range(slide_path):
    with open_slide(str(slide_path)) as reader:
        with pytest.raises(ValueError, match='min_tissue'):
            plan_tiles(reader, tile_layout(reader, 64), _tissue(), min_tissue=1.5)


@pytest.mark.parametrize('backend', ['openslide', 'tiffslide'])
def test_threaded_reading_matches_reading_in_turn(slide_path, backend):
    import threading

    from epsam.wsi.tiling import iter_tile_batches
    pytest.importorskip(backend)
    with open_slide(str(slide_path), backend=backend) as reader:
        layout = tile_layout(reader, 64, level=1)
        tiles = plan_tiles(reader, layout, None, cover_edges=True)
        serial = list(iter_tile_batches(reader, layout, tiles, 5, workers=1))
        seen = set()
        original = reader.read_region

        def spy(*args):
            seen.add(threading.current_thread().name)
            return original(*args)

        reader.read_region = spy
        threaded = list(iter_tile_batches(reader, layout, tiles, 5, workers=3))
    assert [b for b, _ in threaded] == [b for b, _ in serial] and len(serial) == 13
    for (_, a), (_, b) in zip(serial, threaded):
        np.testing.assert_array_equal(a, b)
    assert seen and all(name.startswith('epsam-tiles') for name in seen)

import numpy as np
import pytest

from epsam.wsi import SlideStitcher, blend_window


def _global_map(size, block):
    """A piecewise-constant map on ``block`` px blocks (so area shrinking is exact)."""
    rng = np.random.default_rng(0)
    coarse = rng.uniform(0, 1, (size // block, size // block))
    return np.kron(coarse, np.ones((block, block)))


@pytest.mark.parametrize('stride', [64, 32, 48])
@pytest.mark.parametrize('window', ['hann', 'uniform'])
def test_known_prediction_is_reproduced(stride, window):
    size, tile = 256, 64
    truth = _global_map(size, 1)
    stitcher = SlideStitcher((size, size), downsample=1.0, window=window)
    starts = list(range(0, size - tile + 1, stride))
    if starts[-1] + tile < size:
        starts.append(size - tile)
    for y in starts:
        for x in starts:
            stitcher.add(truth[y:y + tile, x:x + tile], x, y, tile)
    assert stitcher.coverage.all()
    np.testing.assert_allclose(stitcher.probability(), truth, atol=1e-6)
    np.testing.assert_array_equal(stitcher.label_mask(0.5), (truth >= 0.5).astype(np.uint8))


@pytest.mark.parametrize('stride', [256, 128])
def test_downsampled_output(stride):
    # Tiles of 256 level-0 px predicted at 64 px (x4), stitched at x16.
    size, extent, out_ds = 1024, 256, 16.0
    truth = _global_map(size, 16)
    stitcher = SlideStitcher((size, size), downsample=out_ds)
    for y in range(0, size - extent + 1, stride):
        for x in range(0, size - extent + 1, stride):
            level0 = truth[y:y + extent, x:x + extent]
            stitcher.add(level0[::4, ::4], x, y, extent)  # the tile's own 64 px map
    np.testing.assert_allclose(stitcher.probability(), truth[::16, ::16], atol=1e-6)
    assert stitcher.probability().shape == (64, 64)


def test_uncovered_pixels_and_edges():
    stitcher = SlideStitcher((100, 60), downsample=2.0)
    assert (stitcher.width, stitcher.height) == (50, 30)
    assert stitcher.probability().shape == (30, 50) and not stitcher.coverage.any()
    stitcher.add(np.ones((40, 40)), 80, 40, 40)  # reaches past the right and bottom edges
    prob = stitcher.probability()
    assert prob[20:, 40:].min() == 1.0 and prob[:20].max() == 0.0
    assert stitcher.coverage.sum() == 10 * 10
    with pytest.raises(ValueError, match=r'must be \(H, W\)'):
        stitcher.add(np.ones((4, 4, 3)), 0, 0, 8)


def test_window():
    window = blend_window(8, 6)
    assert window.shape == (8, 6) and window.min() > 0 and window.max() <= 1
    assert window[4, 3] > window[0, 0]
    np.testing.assert_allclose(window, window[::-1, ::-1])
    with pytest.raises(ValueError, match='unknown blending window'):
        blend_window(4, 4, 'gaussian')

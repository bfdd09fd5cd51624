"""Top-k CAM peaks with non-maximum suppression."""
import numpy as np
import pytest

from epsam.prompts import TopKPeakPrompt


def _bumps(centres_heights, size=64, sigma=3.0):
    """A CAM made of Gaussian bumps ``[((x, y), height), ...]``."""
    ys, xs = np.mgrid[:size, :size]
    cam = np.zeros((size, size))
    for (x, y), height in centres_heights:
        cam = np.maximum(cam, height * np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2)))
    return cam


def test_peaks_found_in_order_of_height():
    cam = _bumps([((10, 12), 0.6), ((40, 20), 1.0), ((25, 50), 0.8)])
    prompts = TopKPeakPrompt(num_peaks=5, min_distance=5, within_mask=False)(cam)
    np.testing.assert_array_equal(prompts.point_coords, [[40, 20], [25, 50], [10, 12]])
    np.testing.assert_array_equal(prompts.point_labels, [1, 1, 1])
    top2 = TopKPeakPrompt(num_peaks=2, min_distance=5, within_mask=False)(cam)
    np.testing.assert_array_equal(top2.point_coords, [[40, 20], [25, 50]])


def test_close_peaks_are_suppressed():
    cam = _bumps([((20, 20), 1.0), ((26, 20), 0.9)], sigma=1.0)
    near = TopKPeakPrompt(num_peaks=5, min_distance=8, within_mask=False)(cam)
    np.testing.assert_array_equal(near.point_coords, [[20, 20]])
    far = TopKPeakPrompt(num_peaks=5, min_distance=4, within_mask=False)(cam)
    np.testing.assert_array_equal(far.point_coords, [[20, 20], [26, 20]])


def test_plateau_gives_spaced_points_and_all_pairs_respect_min_distance():
    cam = np.zeros((40, 40))
    cam[5:35, 5:35] = 0.7  # one flat plateau
    prompts = TopKPeakPrompt(num_peaks=50, min_distance=10, within_mask=False)(cam)
    xy = prompts.point_coords
    assert 1 < len(xy) < 50
    np.testing.assert_array_equal(xy[0], [5, 5])  # ties: top row, then left column
    dist = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
    assert (dist[~np.eye(len(xy), dtype=bool)] >= 10).all()
    assert (cam[xy[:, 1].astype(int), xy[:, 0].astype(int)] == 0.7).all()


def test_within_mask_ignores_peaks_outside():
    cam = _bumps([((40, 20), 1.0), ((10, 50), 0.5)])
    mask = np.zeros_like(cam, dtype=bool)
    mask[40:60, 0:20] = True
    prompts = TopKPeakPrompt(num_peaks=3, min_distance=5)(cam, mask)
    np.testing.assert_array_equal(prompts.point_coords, [[10, 50]])
    empty = TopKPeakPrompt()(cam, np.zeros_like(mask))
    assert empty.is_empty


def test_zero_cam_and_bad_arguments():
    assert TopKPeakPrompt(within_mask=False)(np.zeros((8, 8))).is_empty
    with pytest.raises(ValueError, match='needs a mask'):
        TopKPeakPrompt(within_mask=True)(np.zeros((8, 8)))
    with pytest.raises(ValueError, match='min_distance'):
        TopKPeakPrompt(min_distance=0)
    with pytest.raises(ValueError, match='min_value'):
        TopKPeakPrompt(min_value=1.0)

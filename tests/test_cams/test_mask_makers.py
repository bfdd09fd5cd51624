import numpy as np
import pytest
import torch

import epsam  # noqa: F401
from epsam.cams import OtsuMaskMaker, PercentileMaskMaker, otsu_threshold
from epsam.registry import MASK_MAKERS


def test_percentile_of_non_zero_values():
    # Non-zero values 0.1 .. 1.0 (10 pixels), 6 zero pixels.
    cam = np.zeros((4, 4), np.float32)
    cam.flat[:10] = np.linspace(0.1, 1.0, 10)
    maker = MASK_MAKERS.build(dict(type='PercentileMaskMaker', percentile=30))
    # 30th percentile of 0.1..1.0 (linear interpolation) = 0.37 -> 0.4 .. 1.0 kept.
    mask = maker(cam)
    assert mask.dtype == bool and mask.sum() == 7
    assert np.array_equal(mask.flat[:10], np.arange(10) >= 3)
    assert PercentileMaskMaker(percentile=0)(cam).sum() == 10  # zeros never kept
    assert PercentileMaskMaker(percentile=100)(cam).sum() == 1


def test_empty_cam_gives_empty_mask():
    for name in ('PercentileMaskMaker', 'FixedThresholdMaskMaker', 'OtsuMaskMaker'):
        maker = MASK_MAKERS.build(dict(type=name, opening_kernel=3))
        mask = maker(torch.zeros(6, 6))
        assert mask.shape == (6, 6) and not mask.any()
    # A map of one constant positive value has no Otsu split either.
    assert not OtsuMaskMaker()(np.full((4, 4), 0.5)).any()


def test_fixed_threshold_and_batched_maps():
    cams = torch.tensor([[[0.2, 0.5], [0.7, 0.0]], [[1.0, 0.49], [0.0, 0.0]]])
    masks = MASK_MAKERS.build(dict(type='FixedThresholdMaskMaker', threshold=0.5))(cams)
    assert masks.shape == (2, 2, 2)
    assert masks.tolist() == [[[False, True], [True, False]], [[True, False], [False, False]]]
    assert not MASK_MAKERS.build(dict(type='FixedThresholdMaskMaker', threshold=0.0))(
        torch.zeros(2, 2)).any()


def test_otsu_two_levels():
    cam = np.full((6, 6), 0.2, np.float32)
    cam[:2] = 0.8
    threshold = otsu_threshold(cam.ravel())
    assert 0.2 < threshold <= 0.8
    assert np.array_equal(OtsuMaskMaker()(cam), cam == 0.8)


def test_opening_removes_specks_and_keeps_blocks():
    cam = np.zeros((20, 20), np.float32)
    cam[2:10, 2:10] = 1.0   # 8x8 block survives a 5x5 opening
    cam[15, 15] = 1.0       # single pixel is removed
    cam[14:17, 2:4] = 1.0   # 3x2 strip is removed
    maker = MASK_MAKERS.build(dict(type='FixedThresholdMaskMaker', threshold=0.5,
                                   opening_kernel=5))
    mask = maker(cam)
    expected = np.zeros((20, 20), bool)
    expected[2:10, 2:10] = True
    assert np.array_equal(mask, expected)


def test_kernel_scales_with_image_size():
    maker = PercentileMaskMaker(opening_kernel=21, kernel_reference_size=512)
    assert maker.kernel_size(512, 512) == 21
    assert maker.kernel_size(256, 256) == 11  # 10.5 -> nearest odd
    assert maker.kernel_size(1024, 768) == 31  # 31.5
    assert maker.kernel_size(300, 300) == 13  # 12.3
    assert maker.kernel_size(16, 16) == 1
    assert PercentileMaskMaker(opening_kernel=21).kernel_size(64, 64) == 21


@pytest.mark.parametrize('kwargs, message', [
    (dict(type='PercentileMaskMaker', percentile=120), 'percentile'),
    (dict(type='FixedThresholdMaskMaker', threshold=2.0), 'threshold'),
    (dict(type='OtsuMaskMaker', bins=1), 'bins'),
    (dict(type='PercentileMaskMaker', opening_kernel=-1), 'opening_kernel'),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MASK_MAKERS.build(kwargs)


def test_bad_cams():
    maker = PercentileMaskMaker()
    with pytest.raises(ValueError, match=r'\(H, W\) or \(K, H, W\)'):
        maker(np.zeros(5))
    with pytest.raises(ValueError, match='NaN'):
        maker(np.full((2, 2), np.nan))

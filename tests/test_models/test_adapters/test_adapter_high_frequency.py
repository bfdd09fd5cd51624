import numpy as np
import pytest
import torch

import epsam  # noqa: F401
from epsam.models.adapters import (high_pass_per_channel, square_side_from_area,
                                   square_side_from_ratio)


def test_per_channel_map_keeps_channels_apart():
    images = torch.zeros(1, 3, 16, 16)
    images[0, 1, 4, 4] = 10.0  # an impulse in the green channel only
    high = high_pass_per_channel(images, square_side=4)
    assert high.shape == (1, 3, 16, 16)
    assert high[0, 0].abs().max() == 0 and high[0, 2].abs().max() == 0
    assert high[0, 1].argmax() == 4 * 16 + 4
    # 16 of the 256 equal-magnitude frequencies removed: 10 * (1 - 16/256) at the impulse.
    assert high[0, 1, 4, 4].item() == pytest.approx(10 * (1 - 16 / 256), abs=1e-4)


def test_matches_numpy_reference():
    images = torch.rand(2, 3, 20, 20)
    high = high_pass_per_channel(images, square_side=5)
    spectrum = np.fft.fftshift(np.fft.fft2(images.double().numpy()), axes=(-2, -1))
    spectrum[..., 10 - 2:10 + 3, 10 - 2:10 + 3] = 0
    expected = np.abs(np.fft.ifft2(np.fft.ifftshift(spectrum, axes=(-2, -1))))
    assert np.allclose(high.numpy(), expected, atol=1e-5)


def test_square_sides():
    assert square_side_from_ratio(512, 0.25) == 128  # CAD
    assert square_side_from_ratio(10, 0.01) == 1
    assert square_side_from_area(1024, 1024, 0.25) == 512  # SAM-Adapter freq_nums 0.25
    assert square_side_from_area(16, 16, 0.001) == 2
    with pytest.raises(ValueError, match='ratio must be in'):
        square_side_from_ratio(512, 0)
    with pytest.raises(ValueError, match='area must be in'):
        square_side_from_area(16, 16, 1.5)
    with pytest.raises(ValueError, match=r'\(B, C, H, W\)'):
        high_pass_per_channel(torch.zeros(3, 8, 8), square_side=2)

import math

import pytest
import torch

import epsam  # noqa: F401
from epsam.models.layers import HighFrequencyChannel, high_frequency_residual


def test_constant_image_gives_zero():
    images = torch.full((2, 3, 16, 16), 0.7)
    residual = high_frequency_residual(images, square_size=2)
    assert residual.shape == (2, 1, 16, 16)
    assert residual.abs().max() < 1e-5


def test_impulse_gives_energy_at_the_impulse():
    images = torch.zeros(1, 3, 16, 16)
    images[0, :, 5, 7] = 1.0
    residual = high_frequency_residual(images, square_size=2)[0, 0]
    assert residual.sum() > 0
    assert residual.argmax() == 5 * 16 + 7
    # Removing the DC term and 3 neighbours (each 1/256 of the impulse spectrum)
    # leaves about 1 - 4/256 at the impulse.
    assert math.isclose(residual[5, 7].item(), 1 - 4 / 256, abs_tol=1e-3)


def test_square_size_one_removes_only_the_mean():
    images = torch.rand(2, 3, 8, 10)
    residual = high_frequency_residual(images, square_size=1)
    centred = (images - images.mean(dim=(2, 3), keepdim=True)).abs().mean(1, keepdim=True)
    assert torch.allclose(residual, centred, atol=1e-5)


def test_low_frequency_pattern_removed_by_bigger_square():
    # A cosine one cycle across the image sits at frequency +-1: zeroed by a 4x4 square
    # (frequencies -2..1) but only half of it by the 2x2 square (frequencies -1..0).
    xs = torch.arange(16, dtype=torch.float32)
    wave = 0.5 + 0.25 * torch.cos(2 * math.pi * xs / 16)
    images = wave.view(1, 1, 1, 16).expand(1, 3, 16, 16).contiguous()
    assert high_frequency_residual(images, square_size=4).abs().max() < 1e-5
    assert high_frequency_residual(images, square_size=2).abs().max() > 0.1


def test_module_appends_channel_and_validates():
    images = torch.rand(2, 3, 8, 8)
    out = HighFrequencyChannel(square_size=2)(images)
    assert out.shape == (2, 4, 8, 8)
    assert torch.equal(out[:, :3], images)
    assert HighFrequencyChannel(append=False)(images).shape == (2, 1, 8, 8)
    with pytest.raises(ValueError, match='square_size'):
        high_frequency_residual(images, square_size=9)
    with pytest.raises(ValueError, match=r'\(B, C, H, W\)'):
        high_frequency_residual(torch.rand(3, 8, 8))

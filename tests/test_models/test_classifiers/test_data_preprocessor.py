import pytest
import torch

import epsam  # noqa: F401
from epsam.models.classifiers import IMAGENET_MEAN, IMAGENET_STD, CAMDataPreprocessor
from epsam.models.layers import high_frequency_residual


def _batch():
    bgr = torch.zeros(2, 3, 8, 8, dtype=torch.uint8)
    bgr[:, 0] = 255  # blue in BGR order
    bgr[1, 2, :4] = 51  # some red in the top half of image 1
    return [bgr[0], bgr[1]]


def test_bgr_uint8_to_rgb_unit_range():
    out = CAMDataPreprocessor()(dict(inputs=_batch(), data_samples=None))
    inputs = out['inputs']
    assert inputs.shape == (2, 3, 8, 8) and inputs.dtype == torch.float32
    assert torch.all(inputs[:, 2] == 1.0)  # blue is the last RGB channel
    assert torch.allclose(inputs[1, 0, :4], torch.full((4, 8), 0.2))
    assert out['data_samples'] is None


def test_high_frequency_channel_and_normalisation():
    pre = CAMDataPreprocessor(mean=IMAGENET_MEAN, std=IMAGENET_STD,
                              high_frequency=dict(square_size=2))
    assert pre.out_channels == 4
    inputs = pre(dict(inputs=_batch()))['inputs']
    assert inputs.shape == (2, 4, 8, 8)
    plain = CAMDataPreprocessor()(dict(inputs=_batch()))['inputs']
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    assert torch.allclose(inputs[:, :3], (plain - mean) / std)
    # The high-frequency channel comes from the un-normalised [0, 1] RGB image.
    assert torch.allclose(inputs[:, 3:], high_frequency_residual(plain, 2), atol=1e-6)
    assert inputs[0, 3].abs().max() < 1e-5  # image 0 is constant


def test_errors():
    with pytest.raises(ValueError, match='same shape'):
        CAMDataPreprocessor()(dict(inputs=[torch.zeros(3, 8, 8), torch.zeros(3, 8, 9)]))
    with pytest.raises(ValueError, match='3 channels'):
        CAMDataPreprocessor()(dict(inputs=[torch.zeros(4, 8, 8)]))
    with pytest.raises(ValueError, match='both mean and std'):
        CAMDataPreprocessor(mean=IMAGENET_MEAN)
    with pytest.raises(ValueError, match='\\[0, 1\\] units'):
        CAMDataPreprocessor(mean=(123.7, 116.3, 103.5), std=(58.4, 57.1, 57.4))
    with pytest.raises(ValueError, match='unknown high_frequency'):
        CAMDataPreprocessor(high_frequency=dict(size=2))

import pytest
import torch
from cam_models import tiny_classifier

import epsam  # noqa: F401
from epsam.cams import TTACAM
from epsam.registry import CAM_METHODS


def pointwise_cam(model, inputs):
    """A CAM that commutes with every rotation and flip."""
    return inputs[:, :1].clamp(0, 1)


def corner_cam(model, inputs):
    """A CAM that ignores the image: always the top-left pixel."""
    maps = torch.zeros(inputs.shape[0], 1, *inputs.shape[-2:])
    maps[..., 0, 0] = 1.0
    return maps


def test_equivariant_cam_is_unchanged_by_tta():
    inputs = torch.rand(2, 3, 8, 8)
    tta = TTACAM(cam_method=pointwise_cam, renormalize=False)
    assert len(tta.transforms) == 8
    assert torch.allclose(tta(None, inputs), pointwise_cam(None, inputs))


def test_rotation_symmetric_input_with_symmetric_model_output():
    # A D4-symmetric image (a centred disc) seen by a pointwise CAM.
    rows, cols = torch.meshgrid(torch.arange(9.), torch.arange(9.), indexing='ij')
    disc = (((rows - 4)**2 + (cols - 4)**2) <= 9).float()
    inputs = disc.expand(1, 3, 9, 9)
    assert torch.equal(TTACAM(cam_method=pointwise_cam)(None, inputs),
                       pointwise_cam(None, inputs))


def test_undo_restores_orientation():
    # Each augmented copy of the corner CAM is un-rotated, so the corner map lands
    # on the four corners; rotations only (EP-SAM's setting).
    maps = TTACAM(cam_method=corner_cam, rotations=(0, 90, 180, 270), hflip=False,
                  renormalize=False)(None, torch.rand(1, 3, 5, 7))
    expected = torch.zeros(1, 1, 5, 7)
    for row, col in [(0, 0), (0, 6), (4, 0), (4, 6)]:
        expected[..., row, col] = 0.25
    assert torch.allclose(maps, expected)


def test_tta_of_rotated_input_is_rotated_tta():
    model = tiny_classifier()
    inputs = torch.rand(1, 3, 32, 32)
    tta = CAM_METHODS.build(dict(type='TTACAM', cam_method=dict(type='CAM')))
    plain = CAM_METHODS.build(dict(type='CAM'))
    with torch.no_grad():
        reference = tta(model, inputs)
        for quarter_turns in (1, 2, 3):
            rotated = torch.rot90(inputs, quarter_turns, dims=(-2, -1))
            assert torch.allclose(tta(model, rotated),
                                  torch.rot90(reference, quarter_turns, dims=(-2, -1)),
                                  atol=1e-5)
        flipped = inputs.flip(-1)
        assert torch.allclose(tta(model, flipped), reference.flip(-1), atol=1e-5)
        # ... while the plain CAM of this random network is not equivariant.
        assert not torch.allclose(plain(model, torch.rot90(inputs, 1, dims=(-2, -1))),
                                  torch.rot90(plain(model, inputs), 1, dims=(-2, -1)),
                                  atol=1e-3)


def test_bad_arguments():
    with pytest.raises(ValueError, match='multiples of 90'):
        TTACAM(cam_method=pointwise_cam, rotations=(0, 45))
    with pytest.raises(ValueError, match='must not be empty'):
        TTACAM(cam_method=pointwise_cam, rotations=())
    with pytest.raises(TypeError, match='callable'):
        TTACAM(cam_method=3)

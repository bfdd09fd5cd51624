"""Dense mask prompt from the CAM."""
import numpy as np
import pytest

from epsam.prompts import DenseMaskPrompt


def test_linear_logits():
    cam = np.array([[0.0, 0.25, 0.5, 1.0]])
    prompts = DenseMaskPrompt()(cam)
    assert prompts.mask_input.shape == (1, 1, 4) and prompts.mask_input.dtype == np.float32
    np.testing.assert_allclose(prompts.mask_input[0], [[-10.0, -5.0, 0.0, 10.0]])
    scaled = DenseMaskPrompt(scale=4.0, centre=0.25)(cam)
    np.testing.assert_allclose(scaled.mask_input[0], [[-1.0, 0.0, 1.0, 3.0]])


def test_logit_mode_inverts_sigmoid_and_clips():
    cam = np.array([[0.0, 0.2, 0.5, 0.9, 1.0]])
    logits = DenseMaskPrompt(mode='logit', scale=1.0, eps=0.01)(cam).mask_input[0, 0]
    np.testing.assert_allclose(1 / (1 + np.exp(-logits)), [0.01, 0.2, 0.5, 0.9, 0.99],
                               rtol=1e-5)


def test_maps_to_sam_low_res_size():
    cam = np.random.default_rng(0).random((48, 80))
    mapped = DenseMaskPrompt()(cam).to_sam_frame(1024)
    assert mapped.mask_input.shape == (1, 256, 256)


@pytest.mark.parametrize('kwargs', [dict(mode='softmax'), dict(scale=0), dict(centre=1.0),
                                    dict(eps=0.5)])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        DenseMaskPrompt(**kwargs)

"""Combining several prompt generators."""
import numpy as np
import pytest

from epsam.prompts import CombinedPrompt, FullImageBoxPrompt, UniformPointPrompt


def _inputs():
    cam = np.zeros((32, 32))
    cam[8:24, 8:24] = 0.9
    return cam, cam > 0.5


def test_points_negatives_and_box_are_merged_deterministically():
    generator = CombinedPrompt(generators=[
        dict(type='ProbabilisticPointPrompt', num_points=5),
        dict(type='NegativePointPrompt', num_points=3, cam_threshold=0.1),
        dict(type='ComponentBoxPrompt'),
        dict(type='DenseMaskPrompt'),
    ])
    assert generator.requires_rng and generator.requires_mask
    cam, mask = _inputs()
    prompts = generator(cam, mask, np.random.default_rng(3))
    np.testing.assert_array_equal(prompts.point_labels, [1] * 5 + [0] * 3)
    xy = prompts.point_coords.astype(int)
    assert mask[xy[:5, 1], xy[:5, 0]].all() and not mask[xy[5:, 1], xy[5:, 0]].any()
    np.testing.assert_array_equal(prompts.boxes, [[8, 8, 23, 23]])
    assert prompts.mask_input.shape == (1, 32, 32)
    again = generator(cam, mask, np.random.default_rng(3))
    np.testing.assert_array_equal(prompts.point_coords, again.point_coords)


def test_accepts_instances_and_maskless_members():
    generator = CombinedPrompt(generators=[FullImageBoxPrompt(), dict(type='DenseMaskPrompt')])
    assert not generator.requires_mask and not generator.requires_rng
    prompts = generator(np.zeros((10, 12)))
    np.testing.assert_array_equal(prompts.boxes, [[0, 0, 11, 9]])
    mixed = CombinedPrompt(generators=[UniformPointPrompt(num_points=2), FullImageBoxPrompt()])
    with pytest.raises(TypeError, match='rng'):
        mixed(*_inputs())


def test_bad_configs():
    with pytest.raises(ValueError, match='non-empty list'):
        CombinedPrompt(generators=[])
    with pytest.raises(ValueError, match='non-empty list'):
        CombinedPrompt(generators=dict(type='FullImageBoxPrompt'))
    with pytest.raises(TypeError, match=r'generators\[1\]'):
        CombinedPrompt(generators=[FullImageBoxPrompt(), 'FullImageBoxPrompt'])
    with pytest.raises(KeyError):
        CombinedPrompt(generators=[dict(type='NoSuchPrompt')])
    two_masks = CombinedPrompt(generators=[dict(type='DenseMaskPrompt')] * 2)
    with pytest.raises(ValueError, match='mask_input'):
        two_masks(np.zeros((4, 4)))

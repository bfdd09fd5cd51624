"""The Prompts container: validation, merging, SAM input tensors."""
import numpy as np
import pytest
import torch

from epsam.prompts import Prompts, merge_prompts


def test_defaults_are_empty_with_right_shapes():
    prompts = Prompts(image_size=(8, 9))
    assert prompts.is_empty and prompts.image_size == (8, 9)
    assert prompts.point_coords.shape == (0, 2) and prompts.boxes.shape == (0, 4)
    assert prompts.to_sam_inputs() == dict(point_coords=None, point_labels=None, boxes=None,
                                           mask_inputs=None)


def test_negative_points_alone_leave_the_prompts_empty():
    negative = Prompts(image_size=(8, 8), point_coords=[[1, 1], [2, 2]], point_labels=[0, 0])
    assert negative.is_empty and negative.num_points == 2
    for marked in (dict(point_coords=[[1, 1], [2, 2]], point_labels=[0, 1]),
                   dict(boxes=[[0, 0, 3, 3]]), dict(mask_input=np.ones((1, 8, 8)))):
        assert not Prompts(image_size=(8, 8), **marked).is_empty, marked


@pytest.mark.parametrize('kwargs, match', [
    (dict(image_size=(0, 4)), 'image_size'),
    (dict(image_size=(4,)), 'image_size'),
    (dict(image_size=(4, 4), point_coords=[[1, 2, 3]], point_labels=[1]), 'point_coords'),
    (dict(image_size=(4, 4), point_coords=[[1, 2]], point_labels=[1, 1]), 'point_labels'),
    (dict(image_size=(4, 4), point_coords=[[1, 2]], point_labels=[2]), 'point_labels'),
    (dict(image_size=(4, 4), boxes=[[1, 2, 3]]), 'boxes'),
    (dict(image_size=(4, 4), boxes=[[3, 2, 1, 4]]), 'x1 >= x0'),
    (dict(image_size=(4, 4), point_coords=[[np.nan, 2]], point_labels=[1]), 'NaN'),
    (dict(image_size=(4, 4), mask_input=np.zeros((4, 4))), 'mask_input'),
])
def test_invalid_fields_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Prompts(**kwargs)


def test_merge_concatenates_in_order():
    first = Prompts(image_size=(8, 8), point_coords=[[1, 1], [2, 2]], point_labels=[1, 1])
    second = Prompts(image_size=(8, 8), point_coords=[[7, 7]], point_labels=[0],
                     boxes=[[0, 0, 3, 3]])
    third = Prompts(image_size=(8, 8), mask_input=np.ones((1, 8, 8)))
    merged = merge_prompts([first, second, third])
    np.testing.assert_array_equal(merged.point_coords, [[1, 1], [2, 2], [7, 7]])
    np.testing.assert_array_equal(merged.point_labels, [1, 1, 0])
    np.testing.assert_array_equal(merged.boxes, [[0, 0, 3, 3]])
    assert merged.mask_input.shape == (1, 8, 8)
    with pytest.raises(ValueError, match='image sizes'):
        merge_prompts([first, Prompts(image_size=(4, 4))])
    with pytest.raises(ValueError, match='mask_input'):
        merge_prompts([third, third])
    with pytest.raises(ValueError, match='at least one'):
        merge_prompts([])


def test_sam_inputs_repeat_points_per_box():
    prompts = Prompts(image_size=(16, 16), point_coords=[[1, 2], [3, 4], [5, 6]],
                      point_labels=[1, 0, 1], boxes=[[0, 0, 5, 5], [1, 1, 9, 9]],
                      mask_input=np.zeros((1, 4, 4)))
    inputs = prompts.to_sam_inputs(device=torch.device('cpu'))
    assert inputs['point_coords'].shape == (2, 3, 2)
    assert inputs['point_coords'].dtype == torch.float32
    assert inputs['point_labels'].tolist() == [[1, 0, 1], [1, 0, 1]]
    assert inputs['boxes'].shape == (2, 4)
    assert inputs['mask_inputs'].shape == (2, 1, 4, 4)
    points_only = Prompts(image_size=(16, 16), point_coords=[[1, 2]], point_labels=[1])
    inputs = points_only.to_sam_inputs()
    assert inputs['point_coords'].shape == (1, 1, 2) and inputs['boxes'] is None

"""Box prompts from mask components and over the whole image."""
import numpy as np
import pytest

from epsam.prompts import ComponentBoxPrompt, FullImageBoxPrompt


def _cam(mask):
    return mask.astype(np.float64)


def test_box_matches_drawn_rectangle_exactly():
    mask = np.zeros((64, 64), bool)
    mask[10:20, 30:50] = True
    prompts = ComponentBoxPrompt()(_cam(mask), mask)
    np.testing.assert_array_equal(prompts.boxes, [[30, 10, 49, 19]])
    assert prompts.num_points == 0 and prompts.mask_input is None


def test_components_sorted_filtered_and_limited():
    mask = np.zeros((64, 64), bool)
    mask[0:5, 0:5] = True       # area 25
    mask[30:40, 30:45] = True   # area 150
    mask[50:52, 60:62] = True   # area 4
    boxes = ComponentBoxPrompt()(_cam(mask), mask).boxes
    np.testing.assert_array_equal(boxes, [[30, 30, 44, 39], [0, 0, 4, 4], [60, 50, 61, 51]])
    boxes = ComponentBoxPrompt(min_area=5)(_cam(mask), mask).boxes
    np.testing.assert_array_equal(boxes, [[30, 30, 44, 39], [0, 0, 4, 4]])
    boxes = ComponentBoxPrompt(max_boxes=1)(_cam(mask), mask).boxes
    np.testing.assert_array_equal(boxes, [[30, 30, 44, 39]])


def test_margin_is_clipped_to_the_image():
    mask = np.zeros((20, 30), bool)
    mask[1:5, 25:29] = True
    boxes = ComponentBoxPrompt(margin=3)(_cam(mask), mask).boxes
    np.testing.assert_array_equal(boxes, [[22, 0, 29, 7]])


def test_connectivity():
    mask = np.zeros((10, 10), bool)
    mask[2, 2] = mask[3, 3] = True  # diagonal neighbours
    assert ComponentBoxPrompt(connectivity=8)(_cam(mask), mask).num_boxes == 1
    assert ComponentBoxPrompt(connectivity=4)(_cam(mask), mask).num_boxes == 2


def test_empty_mask_gives_no_boxes():
    mask = np.zeros((16, 16), bool)
    prompts = ComponentBoxPrompt()(_cam(mask), mask)
    assert prompts.is_empty and prompts.boxes.shape == (0, 4)


def test_full_image_box():
    prompts = FullImageBoxPrompt()(np.zeros((300, 500)))
    assert prompts.image_size == (300, 500)
    np.testing.assert_array_equal(prompts.boxes, [[0, 0, 499, 299]])


def test_bad_arguments():
    with pytest.raises(ValueError, match='connectivity'):
        ComponentBoxPrompt(connectivity=6)
    with pytest.raises(ValueError, match='margin'):
        ComponentBoxPrompt(margin=-1)
    with pytest.raises(ValueError, match='min_area'):
        ComponentBoxPrompt(min_area=0)

"""merge_class_masks on hand-built 4x6 masks and CAMs."""
import numpy as np
import pytest
import torch

from epsam.pseudo_labels.multiclass import merge_class_masks

BG, IGN = 4, 255


def _cam(*values):
    """(K, 4, 6) CAM with a constant value per class."""
    return np.stack([np.full((4, 6), v, np.float32) for v in values])


def _mask(cols):
    """(4, 6) boolean mask covering the given columns."""
    mask = np.zeros((4, 6), bool)
    mask[:, list(cols)] = True
    return mask


def test_single_masks_background_and_ignore():
    cam = _cam(0.0, 0.0, 0.0, 0.0)
    cam[0, :, 0:2] = 0.9  # class 0 CAM, covered by SAM
    cam[1, :, 2] = 0.8  # class 1 CAM, not covered: ignore
    masks = {0: _mask([0, 1]), 3: _mask([5])}
    out = merge_class_masks(masks, cam, background_index=BG, min_confidence=0.3)
    assert out.dtype == np.uint8 and out.shape == (4, 6)
    expected = np.array([0, 0, IGN, BG, BG, 3], np.uint8)
    np.testing.assert_array_equal(out, np.tile(expected, (4, 1)))


def test_overlap_resolved_by_cam_or_by_sam_score():
    cam = _cam(0.9, 0.5, 0.0, 0.0)
    cam[1, :, 3:] = 0.95  # class 1 wins on the CAM in columns 3-5
    masks = {0: _mask(range(0, 5)), 1: _mask(range(2, 6))}
    scores = {0: 0.7, 1: 0.95}
    by_cam = merge_class_masks(masks, cam, scores, resolve='cam', background_index=BG)
    np.testing.assert_array_equal(by_cam[0], [0, 0, 0, 1, 1, 1])
    by_sam = merge_class_masks(masks, cam, scores, resolve='sam', background_index=BG)
    np.testing.assert_array_equal(by_sam[0], [0, 0, 1, 1, 1, 1])


def test_cam_ties_go_to_lower_class_and_uint8_cam_is_scaled():
    cam = np.zeros((2, 4, 6), np.uint8)
    cam[:, :, :3] = 200  # equal CAMs where the masks overlap
    masks = {1: _mask([0, 1, 2]), 0: _mask([1, 2])}
    out = merge_class_masks(masks, torch.from_numpy(cam), background_index=2,
                            min_confidence=0.5)
    np.testing.assert_array_equal(out[0], [1, 0, 0, 2, 2, 2])
    # 200 / 255 = 0.78 >= min_confidence 0.75 -> uncovered CAM pixel would be ignored
    cam[0, :, 5] = 200
    out = merge_class_masks({}, cam, background_index=2, min_confidence=0.75)
    np.testing.assert_array_equal(out[0], [IGN, IGN, IGN, 2, 2, IGN])


def test_absent_classes_never_appear():
    cam = _cam(0.0, 0.9, 0.0, 0.0)
    cam[0, :, :3] = 0.9
    masks = {0: _mask([0, 1, 2]), 1: _mask([3, 4, 5])}
    out = merge_class_masks(masks, cam, background_index=BG, image_label=[1, 0, 0, 0],
                            min_confidence=0.5)
    assert 1 not in np.unique(out)
    # class 1's CAM no longer counts either: its uncovered pixels are background
    np.testing.assert_array_equal(out[0], [0, 0, 0, BG, BG, BG])


def test_low_sam_score_masks_are_dropped():
    cam = _cam(0.1, 0.1, 0.1, 0.1)
    masks = {0: _mask([0]), 2: _mask([1])}
    out = merge_class_masks(masks, cam, {0: 0.9, 2: 0.4}, background_index=BG,
                            min_sam_score=0.5, min_confidence=0.2)
    np.testing.assert_array_equal(out[0], [0, BG, BG, BG, BG, BG])


def test_white_pixels_are_background_even_when_covered():
    cam = _cam(0.9, 0.0, 0.0, 0.0)
    white = np.zeros((4, 6), bool)
    white[:, [1, 4]] = True
    out = merge_class_masks({0: _mask([0, 1, 2])}, cam, background_index=BG,
                            min_confidence=0.5, white_mask=white)
    np.testing.assert_array_equal(out[0], [0, BG, 0, IGN, BG, IGN])


@pytest.mark.parametrize('kwargs, message', [
    (dict(masks={0: np.ones((3, 6), bool)}), 'mask of class 0 has shape'),
    (dict(masks={7: np.ones((4, 6), bool)}), 'class 7 outside'),
    (dict(masks={0: np.full((4, 6), 2)}), 'boolean or 0/1'),
    (dict(resolve='area'), 'resolve must be one of'),
    (dict(resolve='sam', masks={0: np.ones((4, 6), bool)}), 'no SAM score for the mask of class 0'),
    (dict(background_index=1), 'background_index 1'),
    (dict(background_index=255), 'background_index 255'),
    (dict(image_label=[1, 0]), 'image_label has 2 entries'),
    (dict(min_confidence=1.5), 'min_confidence'),
    (dict(cam=np.zeros((4, 6), np.float32)), r'cam must be \(K, H, W\)'),
    (dict(cam=np.zeros((4, 4, 6), np.int32)), 'dtype int32'),
    (dict(white_mask=np.zeros((4, 5), bool)), 'white_mask has shape'),
])
def test_bad_inputs_name_the_problem(kwargs, message):
    args = dict(masks={}, cam=_cam(0.5, 0.5, 0.5, 0.5), background_index=BG)
    args.update(kwargs)
    masks, cam = args.pop('masks'), args.pop('cam')
    with pytest.raises(ValueError, match=message):
        merge_class_masks(masks, cam, **args)

"""Pseudo-label selectors: hand-computed scores, the threshold boundary, empty masks."""
import numpy as np
import pytest
import torch

from epsam.pseudo_labels import (CAMIoUSelector, IDSSelector, KeepAllSelector, PredictedIoUSelector,
                                 SelectionResult, ids_score, mask_iou)


def _masks(sam_pixels, cam_pixels, shape=(6, 6)):
    """Masks with the listed flat pixel indices set."""
    sam, cam = np.zeros(shape, bool), np.zeros(shape, bool)
    sam.flat[list(sam_pixels)] = True
    cam.flat[list(cam_pixels)] = True
    return sam, cam


def test_ids_hand_computed():
    sam, cam = _masks([0, 1, 2, 3], [1, 2, 3, 10, 11])  # overlap 3, |SAM| 4
    assert ids_score(sam, cam) == 3 / 5
    result = IDSSelector()(sam, cam)
    assert isinstance(result, SelectionResult)
    assert result.keep is False and result.score == pytest.approx(0.6)
    assert 'IDS' in result.reason and '<' in result.reason


def test_ids_boundary_is_kept():
    sam, cam = _masks(range(9), range(12))  # 9 / (9 + 1) == 0.9 exactly
    assert IDSSelector(threshold=0.9)(sam, cam).keep
    assert not IDSSelector(threshold=0.9000001)(sam, cam).keep
    batch = IDSSelector(threshold=0.9).select_batch(torch.from_numpy(sam)[None],
                                                    torch.from_numpy(cam)[None])
    assert batch.keep.tolist() == [True] and batch.scores.tolist() == [0.9]


def test_ids_empty_sam_mask_scores_zero_and_is_rejected():
    sam, cam = _masks([], range(10))
    result = IDSSelector()(sam, cam)
    assert result == (False, 0.0, result.reason) and 'empty SAM mask' in result.reason
    assert IDSSelector(threshold=0.0)(sam, cam).keep  # threshold 0 keeps everything
    full_sam, empty_cam = _masks(range(5), [])
    assert IDSSelector()(full_sam, empty_cam).score == 0.0


def test_cam_iou_hand_computed_boundary_and_empty():
    sam, cam = _masks([0, 1, 2], [1, 2, 3])  # inter 2, union 4
    assert mask_iou(sam, cam) == 0.5
    sam, cam = _masks([0, 1, 2], [0, 1, 2, 3])  # inter 3, union 4
    assert CAMIoUSelector(threshold=0.75)(sam, cam) == (True, 0.75, 'CAM IoU 0.75 >= 0.75')
    assert not CAMIoUSelector(threshold=0.76)(sam, cam).keep
    empty_sam, empty_cam = _masks([], [])
    assert CAMIoUSelector(threshold=0.1)(empty_sam, empty_cam).score == 0.0


def test_predicted_iou():
    sam, cam = _masks([0], [])
    assert PredictedIoUSelector(threshold=0.88)(sam, cam, predicted_iou=0.88).keep
    assert not PredictedIoUSelector(threshold=0.88)(sam, cam, predicted_iou=0.87).keep
    with pytest.raises(ValueError, match='predicted_iou'):
        PredictedIoUSelector()(sam, cam)
    with pytest.raises(ValueError, match='predicted_ious'):
        PredictedIoUSelector().select_batch(torch.ones(2, 3, 3, dtype=torch.bool),
                                            torch.ones(2, 3, 3, dtype=torch.bool))
    batch = PredictedIoUSelector(threshold=0.5).select_batch(
        torch.ones(3, 2, 2, dtype=torch.bool), torch.zeros(3, 2, 2, dtype=torch.bool),
        torch.tensor([0.4, 0.5, 0.9]))
    assert batch.keep.tolist() == [False, True, True]


def test_keep_all():
    sam, cam = _masks([], [])
    assert KeepAllSelector()(sam, cam) == (True, 1.0, 'keep all')
    batch = KeepAllSelector().select_batch(torch.zeros(4, 2, 2), torch.zeros(4, 2, 2))
    assert batch.keep.tolist() == [True] * 4 and batch.scores.dtype == torch.float64


@pytest.mark.parametrize('selector', [IDSSelector(0.5), CAMIoUSelector(0.3),
                                      PredictedIoUSelector(0.5), KeepAllSelector()])
def test_batched_matches_single(selector):
    rng = np.random.default_rng(0)
    sam = rng.random((6, 16, 16)) > 0.4
    cam = rng.random((6, 16, 16)) > 0.5
    sam[0] = False  # an empty SAM mask in the batch
    ious = rng.random(6)
    batch = selector.select_batch(torch.from_numpy(sam), torch.from_numpy(cam),
                                  torch.from_numpy(ious))
    singles = [selector(s, c, i) for s, c, i in zip(sam, cam, ious)]
    assert batch.keep.tolist() == [r.keep for r in singles]
    assert batch.scores.tolist() == [r.score for r in singles]


def test_bad_inputs_raise_clear_errors():
    sam, cam = _masks([0], [0])
    selector = IDSSelector()
    with pytest.raises(ValueError, match='differs'):
        selector(sam, cam[:-1])
    with pytest.raises(ValueError, match='sam_mask must be a 2-D'):
        selector(sam[None], cam)
    with pytest.raises(ValueError, match='cam_mask must be boolean'):
        selector(sam, cam * 3)
    with pytest.raises(ValueError, match='finite'):
        selector(sam, cam, predicted_iou=float('nan'))
    with pytest.raises(TypeError, match='torch.Tensor'):
        selector.select_batch(sam[None], cam[None])
    with pytest.raises(ValueError, match=r'\(B, H, W\)'):
        selector.select_batch(torch.from_numpy(sam), torch.from_numpy(cam))
    with pytest.raises(ValueError, match='batch of 1'):
        selector.select_batch(torch.from_numpy(sam)[None], torch.from_numpy(cam)[None],
                              torch.tensor([0.5, 0.5]))
    for bad in (-0.1, 1.5, True):
        with pytest.raises(ValueError, match='threshold'):
            IDSSelector(threshold=bad)
    # 0/1 integer masks and torch masks are accepted
    assert selector(sam.astype(np.uint8), torch.from_numpy(cam)).score == 0.5

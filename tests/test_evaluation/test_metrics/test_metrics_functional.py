"""Hand-counted checks of epsam.evaluation.metrics.functional."""
import math

import pytest
import torch

from epsam.evaluation.metrics.functional import (class_accuracy, confusion_matrix,
                                                 dice_from_confusion, dice_iou_per_image,
                                                 exclude_gt_class, foreground_counts,
                                                 foreground_mask, frequency_weighted_iou,
                                                 iou_from_confusion, nanmean_over, pixel_accuracy,
                                                 smoothed_dice_iou)

S = 1e-3

# 3 classes, 255 = ignored. Counted by hand (rows gt, cols pred):
#   gt 0: pred 0 x3, pred 1 x1;  gt 1: pred 1 x3, pred 2 x1;
#   gt 2: pred 0 x1, pred 1 x1, pred 2 x3;  three pixels ignored.
GT = torch.tensor([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 2, 255], [2, 2, 255, 255]])
PRED = torch.tensor([[0, 1, 1, 1], [0, 0, 1, 2], [2, 2, 0, 0], [2, 1, 1, 2]])
CONF = torch.tensor([[3, 1, 0], [0, 3, 1], [1, 1, 3]])


def test_confusion_matrix_hand_counted():
    conf = confusion_matrix(PRED, GT, num_classes=3, ignore_index=255)
    assert conf.dtype == torch.int64
    assert torch.equal(conf, CONF)
    # Without an ignore index the 255s are out of range.
    with pytest.raises(ValueError, match='ground-truth holds class index 255'):
        confusion_matrix(PRED, GT, num_classes=3, ignore_index=None)


def test_confusion_matrix_rejects_bad_input():
    with pytest.raises(ValueError, match='prediction holds class index 3'):
        confusion_matrix(torch.full((2, 2), 3), torch.zeros(2, 2, dtype=torch.long), 3)
    with pytest.raises(ValueError, match=r'shape \(2, 2\) differs'):
        confusion_matrix(torch.zeros(2, 2), torch.zeros(2, 3), 3)
    # A prediction of 255 under an ignored pixel is fine: the pixel is not counted.
    conf = confusion_matrix(torch.tensor([255, 1]), torch.tensor([255, 1]), 2)
    assert conf.tolist() == [[0, 0], [0, 1]]


def test_scores_from_confusion_hand_computed():
    iou = iou_from_confusion(CONF)
    assert iou.tolist() == pytest.approx([3 / 5, 3 / 6, 3 / 6])
    assert dice_from_confusion(CONF).tolist() == pytest.approx([6 / 8, 6 / 9, 6 / 9])
    assert class_accuracy(CONF).tolist() == pytest.approx([3 / 4, 3 / 4, 3 / 5])
    assert pixel_accuracy(CONF) == pytest.approx(9 / 13)
    assert frequency_weighted_iou(CONF, [0, 1, 2]) == pytest.approx(
        (4 * 0.6 + 4 * 0.5 + 5 * 0.5) / 13)
    # Over classes 0 and 1 only, weights renormalise to 4/8 each.
    assert frequency_weighted_iou(CONF, [0, 1]) == pytest.approx(0.55)


def test_exclude_gt_class_keeps_predictions_of_that_class_as_errors():
    conf = exclude_gt_class(CONF, 2)
    assert conf.tolist() == [[3, 1, 0], [0, 3, 1], [0, 0, 0]]
    assert CONF[2].tolist() == [1, 1, 3]  # input untouched
    iou = iou_from_confusion(conf)
    # class 1: I=3, |G|=4, |P|=4 (the gt-1 pixel predicted as 2 is still a miss) -> 3/5
    assert iou[:2].tolist() == pytest.approx([3 / 4, 3 / 5])
    assert pixel_accuracy(conf) == pytest.approx(6 / 8)
    with pytest.raises(ValueError, match='outside'):
        exclude_gt_class(CONF, 3)


def test_class_that_never_occurs_is_nan_and_skipped_by_the_mean():
    conf = torch.zeros(3, 3, dtype=torch.long)
    conf[0, 0], conf[1, 1], conf[0, 1] = 2, 1, 2
    iou = iou_from_confusion(conf)
    assert math.isnan(iou[2])
    assert nanmean_over(iou, [0, 1, 2]) == pytest.approx((2 / 4 + 1 / 3) / 2)
    assert frequency_weighted_iou(conf, [0, 1, 2]) == pytest.approx(4 / 5 * 0.5 + 1 / 5 / 3)
    assert math.isnan(nanmean_over(iou, [2]))
    assert math.isnan(nanmean_over(iou, []))


def test_all_pixels_ignored_gives_nan_not_an_error():
    gt = torch.full((3, 3), 255)
    conf = confusion_matrix(torch.zeros(3, 3, dtype=torch.long), gt, 2)
    assert int(conf.sum()) == 0
    assert math.isnan(pixel_accuracy(conf))
    assert torch.isnan(iou_from_confusion(conf)).all()
    assert math.isnan(frequency_weighted_iou(conf, [0, 1]))
    # Per image: with no valid pixel both masks are empty, so the smoothed scores are 1.
    valid = gt != 255
    everything = torch.ones(3, 3, dtype=torch.bool)
    assert dice_iou_per_image(everything, everything, S, valid=valid) == (1.0, 1.0)


def test_dice_iou_per_image_hand_counted_4x4():
    gt = torch.tensor([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]).bool()
    pred = torch.tensor([[0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]]).bool()
    assert foreground_counts(pred, gt) == (2, 4, 4)
    dice, iou = dice_iou_per_image(pred, gt, smooth=S)
    assert dice == pytest.approx((2 * 2 + S) / (4 + 4 + S), abs=1e-12)
    assert iou == pytest.approx((2 + S) / (6 + S), abs=1e-12)
    # Ignoring the right half removes two predicted pixels: I=2, |P|=2, |G|=4.
    valid = torch.zeros(4, 4, dtype=torch.bool)
    valid[:, :2] = True
    dice, iou = dice_iou_per_image(pred, gt, smooth=S, valid=valid)
    assert dice == pytest.approx((4 + S) / (6 + S))
    assert iou == pytest.approx((2 + S) / (4 + S))


def test_smoothed_scores_edge_cases():
    # Empty prediction and empty ground truth: a correct "nothing here" scores exactly 1.
    assert smoothed_dice_iou(0, 0, 0, S) == (1.0, 1.0)
    # Empty prediction against 4 foreground pixels: close to 0 but not 0.
    dice, iou = smoothed_dice_iou(0, 0, 4, S)
    assert dice == pytest.approx(S / (4 + S)) and 0 < dice < 1e-3
    assert iou == pytest.approx(S / (4 + S))
    assert smoothed_dice_iou(5, 5, 5, S) == (1.0, 1.0)
    with pytest.raises(ValueError, match='smooth must be > 0'):
        smoothed_dice_iou(0, 0, 0, 0.0)
    with pytest.raises(ValueError, match='intersection 3'):
        smoothed_dice_iou(3, 2, 5)


def test_foreground_mask_rules():
    label = torch.tensor([[0, 1, 2], [3, 255, 1]])
    assert foreground_mask(label, foreground_indices=[1]).tolist() == [
        [False, True, False], [False, False, True]]
    assert foreground_mask(label, foreground_indices=[1, 3]).tolist() == [
        [False, True, False], [True, False, True]]
    assert foreground_mask(label, background_index=0).tolist() == [
        [False, True, True], [True, False, True]]
    with pytest.raises(ValueError, match='foreground_indices or background_index'):
        foreground_mask(label)

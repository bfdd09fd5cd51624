import math

import pytest
import torch

import epsam  # noqa: F401
from epsam.registry import MODELS


def test_losses_are_registered():
    assert MODELS.build(dict(type='DiceIoULoss')).__class__.__name__ == 'DiceIoULoss'
    assert MODELS.build(dict(type='BCEIoULoss')).__class__.__name__ == 'BCEIoULoss'


def test_dice_iou_hand_checked_values():
    # p = sigmoid(0) = 0.5 on 4 pixels, target = 1 on 2 of them, no smoothing:
    # dice = 1 - 2 * 1 / (2 + 2) = 0.5 ; iou = 1 - 1 / (2 + 2 - 1) = 2/3
    loss = MODELS.build(dict(type='DiceIoULoss', smooth=0.0))
    logits = torch.zeros(1, 2, 2)
    target = torch.tensor([[[1, 1], [0, 0]]])
    out = loss(logits, target)
    assert out['loss_dice'].item() == pytest.approx(0.5)
    assert out['loss_iou'].item() == pytest.approx(2 / 3)


def test_bce_iou_uses_logits_not_probabilities():
    loss = MODELS.build(dict(type='BCEIoULoss', smooth=0.0))
    out = loss(torch.zeros(1, 2, 2), torch.tensor([[[1, 1], [0, 0]]]))
    assert out['loss_bce'].item() == pytest.approx(math.log(2))
    # a confident correct logit gives ~0 BCE; BCE on sigmoid(sigmoid(x)) would not
    out = loss(torch.tensor([[[20.0, -20.0]]]), torch.tensor([[[1, 0]]]))
    assert out['loss_bce'].item() == pytest.approx(0.0, abs=1e-6)
    assert out['loss_iou'].item() == pytest.approx(0.0, abs=1e-6)


def test_perfect_and_ignored_pixels():
    target = torch.tensor([[[1, 0], [255, 255]]])
    logits = torch.tensor([[[30.0, -30.0], [-30.0, 30.0]]])  # wrong only where ignored
    for name in ('DiceIoULoss', 'BCEIoULoss'):
        out = MODELS.build(dict(type=name))(logits, target)
        assert all(v.item() == pytest.approx(0.0, abs=1e-6) for v in out.values()), name


def test_weights_scale_terms_and_gradients_flow():
    logits = torch.zeros(2, 1, 4, 4, requires_grad=True)
    target = torch.randint(0, 2, (2, 1, 4, 4))
    plain = MODELS.build(dict(type='DiceIoULoss'))(logits, target)
    double = MODELS.build(dict(type='DiceIoULoss', dice_weight=2.0, iou_weight=0.0))(
        logits, target)
    assert double['loss_dice'].item() == pytest.approx(2 * plain['loss_dice'].item())
    assert double['loss_iou'].item() == 0.0
    sum(plain.values()).backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_bad_targets_are_explained():
    loss = MODELS.build(dict(type='DiceIoULoss'))
    with pytest.raises(ValueError, match='binary target'):
        loss(torch.zeros(1, 2, 2), torch.tensor([[[0, 2], [1, 0]]]))
    with pytest.raises(ValueError, match='shape'):
        loss(torch.zeros(1, 2, 2), torch.zeros(1, 3, 3))

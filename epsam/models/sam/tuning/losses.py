"""Binary mask losses for SAM tuning, computed from logits.

``DiceIoULoss`` (EP-SAM) and ``BCEIoULoss`` (CAD) take the mask decoder's raw
logits: the sigmoid is applied here for the soft Dice / IoU terms, and BCE uses
``binary_cross_entropy_with_logits`` on the logits themselves (never BCE on an
already-sigmoided output). Pixels equal to ``ignore_index`` do not count. The
soft terms are computed per image and averaged over the batch.
"""
from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from epsam.registry import MODELS

__all__ = ['DiceIoULoss', 'BCEIoULoss', 'soft_dice_loss', 'soft_iou_loss']


def _flatten(logits: torch.Tensor, target: torch.Tensor,
             ignore_index: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Check shapes and values; return (logits, target, valid) as (B, H*W) floats."""
    if logits.ndim == 4 and logits.shape[1] == 1:
        logits = logits[:, 0]
    if target.ndim == 4 and target.shape[1] == 1:
        target = target[:, 0]
    if logits.ndim != 3 or logits.shape != target.shape:
        raise ValueError('mask loss expects logits and target of shape (B, H, W) or '
                         f'(B, 1, H, W), got {tuple(logits.shape)} and {tuple(target.shape)}')
    valid = target != ignore_index
    values = torch.unique(target[valid])
    if ((values != 0) & (values != 1)).any():
        raise ValueError('mask loss expects a binary target (0 = background, 1 = foreground, '
                         f'{ignore_index} = ignored), found values {values.tolist()}')
    batch = logits.shape[0]
    target = torch.where(valid, target, torch.zeros_like(target))
    return (logits.reshape(batch, -1), target.reshape(batch, -1).to(logits.dtype),
            valid.reshape(batch, -1).to(logits.dtype))


def soft_dice_loss(probs: torch.Tensor, target: torch.Tensor, valid: torch.Tensor,
                   smooth: float = 1.0) -> torch.Tensor:
    """Mean over images of 1 - (2|P.T| + s) / (|P| + |T| + s).

    Args:
        probs: Foreground probabilities (B, N).
        target: Binary target (B, N).
        valid: 1 where the pixel counts, 0 where ignored (B, N).
        smooth: Added to numerator and denominator.
    """
    inter = (probs * target * valid).sum(1)
    total = (probs * valid).sum(1) + (target * valid).sum(1)
    return (1 - (2 * inter + smooth) / (total + smooth)).mean()


def soft_iou_loss(probs: torch.Tensor, target: torch.Tensor, valid: torch.Tensor,
                  smooth: float = 1.0) -> torch.Tensor:
    """Mean over images of 1 - (|P.T| + s) / (|P| + |T| - |P.T| + s).

    Args:
        probs: Foreground probabilities (B, N).
        target: Binary target (B, N).
        valid: 1 where the pixel counts, 0 where ignored (B, N).
        smooth: Added to numerator and denominator.
    """
    inter = (probs * target * valid).sum(1)
    union = (probs * valid).sum(1) + (target * valid).sum(1) - inter
    return (1 - (inter + smooth) / (union + smooth)).mean()


class _SoftIoUMaskLoss(nn.Module):
    """A binary mask loss with a soft IoU term; subclasses add the other term.

    Args:
        iou_weight: Weight of the IoU term.
        smooth: Smoothing of the soft terms.
        ignore_index: Target value of pixels that do not count.
    """

    def __init__(self, iou_weight: float, smooth: float, ignore_index: int) -> None:
        super().__init__()
        self.iou_weight = iou_weight
        self.smooth = smooth
        self.ignore_index = ignore_index

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Args: logits (B, H, W) raw decoder output; target (B, H, W) in {0, 1, ignore}.

        Returns:
            The other term's ``{'loss_<name>': ...}`` and ``loss_iou``, weighted scalars.
        """
        logits, target, valid = _flatten(logits, target, self.ignore_index)
        probs = logits.sigmoid()
        losses = self.other_term(logits, probs, target, valid)
        losses['loss_iou'] = self.iou_weight * soft_iou_loss(probs, target, valid, self.smooth)
        return losses

    def other_term(self, logits: torch.Tensor, probs: torch.Tensor, target: torch.Tensor,
                   valid: torch.Tensor) -> Dict[str, torch.Tensor]:
        """The weighted term beside IoU, from flattened (B, N) tensors."""
        raise NotImplementedError


@MODELS.register_module()
class DiceIoULoss(_SoftIoUMaskLoss):
    """Soft Dice + soft IoU on the sigmoid of the logits (EP-SAM).

    Args:
        dice_weight: Weight of the Dice term.
        iou_weight: Weight of the IoU term.
        smooth: Smoothing of both terms.
        ignore_index: Target value of pixels that do not count.
    """

    def __init__(self, dice_weight: float = 1.0, iou_weight: float = 1.0,
                 smooth: float = 1.0, ignore_index: int = 255) -> None:
        super().__init__(iou_weight, smooth, ignore_index)
        self.dice_weight = dice_weight

    def other_term(self, logits: torch.Tensor, probs: torch.Tensor, target: torch.Tensor,
                   valid: torch.Tensor) -> Dict[str, torch.Tensor]:
        return dict(loss_dice=self.dice_weight
                    * soft_dice_loss(probs, target, valid, self.smooth))


@MODELS.register_module()
class BCEIoULoss(_SoftIoUMaskLoss):
    """BCE-with-logits + soft IoU on the sigmoid of the logits (CAD).

    Args:
        bce_weight: Weight of the BCE term (mean over valid pixels).
        iou_weight: Weight of the IoU term.
        smooth: Smoothing of the IoU term.
        ignore_index: Target value of pixels that do not count.
    """

    def __init__(self, bce_weight: float = 1.0, iou_weight: float = 1.0,
                 smooth: float = 1.0, ignore_index: int = 255) -> None:
        super().__init__(iou_weight, smooth, ignore_index)
        self.bce_weight = bce_weight

    def other_term(self, logits: torch.Tensor, probs: torch.Tensor, target: torch.Tensor,
                   valid: torch.Tensor) -> Dict[str, torch.Tensor]:
        bce = F.binary_cross_entropy_with_logits(logits, target, weight=valid, reduction='sum')
        return dict(loss_bce=self.bce_weight * (bce / valid.sum().clamp(min=1)))

"""Agreement scores between a SAM mask and a CAM mask, single and batched.

Single-image scores take numpy bool arrays ``(H, W)`` and return a Python
float; the batched ones take torch bool tensors ``(B, H, W)`` and return a
float64 tensor ``(B,)``. Both count pixels as integers and divide once in
float64, so a single and a batched score of the same masks are equal bit for
bit (and ``9 / 10`` equals the literal ``0.9``).
"""
import numpy as np
import torch


def ids_score(sam_mask: np.ndarray, cam_mask: np.ndarray) -> float:
    """EP-SAM's IDS: ``|CAM AND SAM| / (|SAM| + 1)``; an empty SAM mask scores 0.

    Args:
        sam_mask: ``(H, W)`` bool mask predicted by SAM.
        cam_mask: ``(H, W)`` bool CAM mask.
    """
    intersection = int(np.count_nonzero(sam_mask & cam_mask))
    return intersection / (int(np.count_nonzero(sam_mask)) + 1)


def mask_iou(sam_mask: np.ndarray, cam_mask: np.ndarray) -> float:
    """``|CAM AND SAM| / |CAM OR SAM|``; two empty masks score 0.

    Args:
        sam_mask: ``(H, W)`` bool mask predicted by SAM.
        cam_mask: ``(H, W)`` bool CAM mask.
    """
    union = int(np.count_nonzero(sam_mask | cam_mask))
    if union == 0:
        return 0.0
    return int(np.count_nonzero(sam_mask & cam_mask)) / union


def ids_scores(sam_masks: torch.Tensor, cam_masks: torch.Tensor) -> torch.Tensor:
    """Batched :func:`ids_score` over ``(B, H, W)`` bool tensors -> ``(B,)`` float64."""
    intersection = (sam_masks & cam_masks).flatten(1).sum(dim=1)
    return intersection.double() / (sam_masks.flatten(1).sum(dim=1) + 1).double()


def mask_ious(sam_masks: torch.Tensor, cam_masks: torch.Tensor) -> torch.Tensor:
    """Batched :func:`mask_iou` over ``(B, H, W)`` bool tensors -> ``(B,)`` float64."""
    intersection = (sam_masks & cam_masks).flatten(1).sum(dim=1).double()
    union = (sam_masks | cam_masks).flatten(1).sum(dim=1).double()
    return torch.where(union > 0, intersection / union.clamp(min=1), torch.zeros_like(union))

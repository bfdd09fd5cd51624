"""Post-processing shared by every CAM method: ReLU, resize, min-max scaling."""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['minmax_normalize', 'postprocess_cam']


def minmax_normalize(maps: Tensor, eps: float = 1e-12) -> Tensor:
    """Scale each (h, w) map of a (..., h, w) tensor to [0, 1] by its min and max.

    A constant map (max - min <= eps) becomes all zeros.
    """
    flat = maps.flatten(-2)
    low = flat.amin(dim=-1, keepdim=True)
    span = flat.amax(dim=-1, keepdim=True) - low
    scaled = torch.where(span > eps, (flat - low) / span.clamp_min(eps), torch.zeros_like(flat))
    return scaled.view_as(maps)


def postprocess_cam(raw_cam: Tensor, size: Tuple[int, int]) -> Tensor:
    """ReLU, bilinear resize to ``size`` and per-map min-max scaling.

    Args:
        raw_cam: (B, K, h, w) un-normalised activation maps.
        size: (H, W) output size in pixels (the model input size).

    Returns:
        Tensor: (B, K, H, W) maps in [0, 1].
    """
    if raw_cam.dim() != 4:
        raise ValueError(f'postprocess_cam: expected (B, K, h, w) maps, got {tuple(raw_cam.shape)}')
    cam = F.relu(raw_cam)
    if tuple(cam.shape[-2:]) != tuple(size):
        cam = F.interpolate(cam, size=tuple(size), mode='bilinear', align_corners=False)
    return minmax_normalize(cam)

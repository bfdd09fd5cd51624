"""Prompted mask prediction with SAM's submodules (never ``Sam.forward``).

The functions keep autograd state as the caller sets it, so the tuning model
uses them for training; :class:`SamMaskPredictor` wraps them for inference in
the two-level style of ``segment_anything.SamPredictor``: encode an image once
(or take a cached embedding), then decode many prompts cheaply.
"""
from typing import Optional, Tuple

import numpy as np
import torch
from segment_anything.modeling import Sam

from .input_transform import SamInputTransform

__all__ = ['embed_prompts', 'decode_masks', 'select_best_mask', 'SamMaskPredictor']

SizeHW = Tuple[int, int]


def embed_prompts(sam: Sam,
                  transform: SamInputTransform,
                  original_size: SizeHW,
                  points: Optional[torch.Tensor] = None,
                  point_labels: Optional[torch.Tensor] = None,
                  box: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Map one image's prompts into SAM's frame and encode them.

    Args:
        sam: The model (its ``prompt_encoder`` is used).
        transform: The input transform of ``sam``.
        original_size: (H, W) of the image the prompts refer to.
        points: (x, y) pixel indices of the original image, shape (N, 2)
            (convention of :class:`SamInputTransform`).
        point_labels: 1 = foreground, 0 = background, shape (N, ).
        box: One XYXY box (inclusive pixel indices), shape (4, ) or (1, 4).

    Returns:
        Sparse embeddings (1, N', C) and dense embeddings (1, C, g, g).
    """
    device = sam.pixel_mean.device
    point_input = None
    if points is not None and points.numel() > 0:
        points = torch.as_tensor(points)
        if points.ndim != 2 or points.shape[1] != 2:
            raise ValueError(f'prompt points must have shape (N, 2) as (x, y), '
                             f'got {tuple(points.shape)}')
        if point_labels is None:
            raise ValueError('prompt points were given without point labels')
        point_labels = torch.as_tensor(point_labels).reshape(-1)
        if point_labels.shape[0] != points.shape[0]:
            raise ValueError(f'{points.shape[0]} prompt points but '
                             f'{point_labels.shape[0]} point labels')
        coords = transform.apply_coords(points.to(device), original_size)[None]
        point_input = (coords, point_labels.to(device=device, dtype=torch.int)[None])
    box_input = None
    if box is not None:
        box = torch.as_tensor(box)
        if box.numel() != 4:
            raise ValueError(f'a prompt box must hold 4 numbers (XYXY), got {tuple(box.shape)}')
        box_input = transform.apply_boxes(box.reshape(1, 4).to(device), original_size)
    if point_input is None and box_input is None:
        raise ValueError('no prompt: give points (with labels) and/or a box')
    return sam.prompt_encoder(points=point_input, boxes=box_input, masks=None)


def decode_masks(sam: Sam, image_embedding: torch.Tensor, sparse: torch.Tensor,
                 dense: torch.Tensor,
                 multimask_output: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
    """Run the mask decoder for one image's prompts.

    Args:
        sam: The model (its ``mask_decoder`` and positional encoding are used).
        image_embedding: The image encoder's output, shape (C, g, g) or (1, C, g, g).
        sparse: Sparse prompt embeddings (1, N', C).
        dense: Dense prompt embeddings (1, C, g, g).
        multimask_output: Predict SAM's three candidate masks instead of one.

    Returns:
        Low-resolution logits (M, 4g, 4g) and predicted IoUs (M, ), with
        M = 3 if ``multimask_output`` else 1.
    """
    if image_embedding.ndim == 3:
        image_embedding = image_embedding[None]
    expected = (sam.prompt_encoder.embed_dim, *sam.prompt_encoder.image_embedding_size)
    if tuple(image_embedding.shape[1:]) != expected or image_embedding.shape[0] != 1:
        raise ValueError(f'image embedding must have shape (1, {expected[0]}, {expected[1]}, '
                         f'{expected[2]}) for this SAM, got {tuple(image_embedding.shape)}')
    low_res, iou = sam.mask_decoder(
        image_embeddings=image_embedding,
        image_pe=sam.prompt_encoder.get_dense_pe(),
        sparse_prompt_embeddings=sparse,
        dense_prompt_embeddings=dense,
        multimask_output=multimask_output)
    return low_res[0], iou[0]


def select_best_mask(logits: torch.Tensor, iou: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Keep the candidate with the highest predicted IoU.

    Args:
        logits: Candidate logits (M, h, w).
        iou: Predicted IoUs (M, ).

    Returns:
        Logits (h, w) and predicted IoU (scalar tensor) of the best candidate.
    """
    best = int(torch.argmax(iou.detach()))
    return logits[best], iou[best]


class SamMaskPredictor:
    """Inference helper: encode an image once, then decode prompts.

    Args:
        sam: A built SAM (see :func:`~epsam.models.sam.build_sam`).
    """

    def __init__(self, sam: Sam) -> None:
        self.sam = sam
        self.transform = SamInputTransform.from_sam(sam)
        self.embedding: Optional[torch.Tensor] = None
        self.original_size: Optional[SizeHW] = None

    @torch.no_grad()
    def set_image(self, image: np.ndarray) -> torch.Tensor:
        """Encode an RGB image.

        Args:
            image: RGB uint8 image, HWC.

        Returns:
            The image embedding (C, g, g), also kept for :meth:`predict`.
        """
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f'expected an RGB image of shape (H, W, 3), got {image.shape}')
        tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]
        tensor = tensor.to(self.sam.pixel_mean.device)
        embedding = self.sam.image_encoder(self.transform.preprocess(tensor))[0]
        self.set_embedding(embedding, image.shape[:2])
        return embedding

    def set_embedding(self, embedding: torch.Tensor, original_size: SizeHW) -> None:
        """Use a precomputed (cached) embedding (C, g, g) of an image of (H, W)."""
        self.embedding = embedding.to(self.sam.pixel_mean.device)
        self.original_size = (int(original_size[0]), int(original_size[1]))

    @torch.no_grad()
    def predict(self,
                points: Optional[torch.Tensor] = None,
                point_labels: Optional[torch.Tensor] = None,
                box: Optional[torch.Tensor] = None,
                multimask_output: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
        """Predict one mask for prompts in original-image pixels.

        Args:
            points: (x, y) pixels, shape (N, 2).
            point_labels: 1 = foreground, 0 = background, shape (N, ).
            box: XYXY pixels, shape (4, ).
            multimask_output: Decode three candidates and keep the one with
                the best predicted IoU.

        Returns:
            Logits (H, W) at the original size (mask = logits > 0) and the
            predicted IoU (scalar tensor).
        """
        if self.embedding is None:
            raise RuntimeError('call set_image() or set_embedding() before predict()')
        sparse, dense = embed_prompts(self.sam, self.transform, self.original_size, points,
                                      point_labels, box)
        low_res, iou = decode_masks(self.sam, self.embedding, sparse, dense, multimask_output)
        logits, best_iou = select_best_mask(low_res, iou)
        logits = self.transform.postprocess_masks(logits[None, None], self.original_size)
        return logits[0, 0], best_iou

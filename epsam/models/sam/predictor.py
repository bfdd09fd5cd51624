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

__all__ = ['embed_prompts', 'decode_masks', 'best_candidates', 'unite_masks', 'SamMaskPredictor']

SizeHW = Tuple[int, int]


def embed_prompts(sam: Sam,
                  transform: SamInputTransform,
                  original_size: SizeHW,
                  points: Optional[torch.Tensor] = None,
                  point_labels: Optional[torch.Tensor] = None,
                  boxes: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Map one image's prompts into SAM's frame and encode them.

    SAM predicts one mask per box; with ``M`` boxes the points go with every
    box (as ``segment_anything``'s batched prompts), giving ``M`` prompt sets.

    Args:
        sam: The model (its ``prompt_encoder`` is used).
        transform: The input transform of ``sam``.
        original_size: (H, W) of the image the prompts refer to.
        points: (x, y) pixel indices of the original image, shape (N, 2)
            (convention of :class:`SamInputTransform`).
        point_labels: 1 = foreground, 0 = background, shape (N, ).
        boxes: XYXY boxes (inclusive pixel indices), shape (4, ) or (M, 4).

    Returns:
        Sparse embeddings (S, N', C) and dense embeddings (S, C, g, g), with
        S = max(M, 1) prompt sets.
    """
    device = sam.pixel_mean.device
    box_input = None
    if boxes is not None and torch.as_tensor(boxes).numel() > 0:
        boxes = torch.as_tensor(boxes)
        if boxes.shape[-1] != 4 or boxes.numel() % 4:
            raise ValueError(f'prompt boxes must have shape (4, ) or (M, 4) as XYXY, '
                             f'got {tuple(boxes.shape)}')
        box_input = transform.apply_boxes(boxes.reshape(-1, 4).to(device), original_size)
    sets = 1 if box_input is None else len(box_input)
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
        coords = transform.apply_coords(points.to(device), original_size)
        labels = point_labels.to(device=device, dtype=torch.int)
        point_input = (coords[None].expand(sets, -1, -1), labels[None].expand(sets, -1))
    if point_input is None and box_input is None:
        raise ValueError('no prompt: give points (with labels) and/or boxes')
    return sam.prompt_encoder(points=point_input, boxes=box_input, masks=None)


def decode_masks(sam: Sam, image_embedding: torch.Tensor, sparse: torch.Tensor,
                 dense: torch.Tensor,
                 multimask_output: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
    """Run the mask decoder for one image's prompt sets.

    Args:
        sam: The model (its ``mask_decoder`` and positional encoding are used).
        image_embedding: The image encoder's output, shape (C, g, g) or (1, C, g, g).
        sparse: Sparse prompt embeddings (S, N', C), S prompt sets.
        dense: Dense prompt embeddings (S, C, g, g).
        multimask_output: Predict SAM's three candidate masks instead of one.

    Returns:
        Low-resolution logits (S, K, 4g, 4g) and predicted IoUs (S, K), with
        K = 3 if ``multimask_output`` else 1.
    """
    if image_embedding.ndim == 3:
        image_embedding = image_embedding[None]
    expected = (sam.prompt_encoder.embed_dim, *sam.prompt_encoder.image_embedding_size)
    if tuple(image_embedding.shape[1:]) != expected or image_embedding.shape[0] != 1:
        raise ValueError(f'image embedding must have shape (1, {expected[0]}, {expected[1]}, '
                         f'{expected[2]}) for this SAM, got {tuple(image_embedding.shape)}')
    return sam.mask_decoder(
        image_embeddings=image_embedding,
        image_pe=sam.prompt_encoder.get_dense_pe(),
        sparse_prompt_embeddings=sparse,
        dense_prompt_embeddings=dense,
        multimask_output=multimask_output)


def best_candidates(logits: torch.Tensor,
                    iou: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Each prompt set's candidate with the highest predicted IoU.

    Args:
        logits: Candidate logits (S, K, h, w).
        iou: Predicted IoUs (S, K).

    Returns:
        Logits (S, h, w) and predicted IoUs (S, ) of the kept candidates.
    """
    best = torch.argmax(iou.detach(), dim=1)
    rows = torch.arange(len(best), device=best.device)
    return logits[rows, best], iou[rows, best]


def unite_masks(logits: torch.Tensor) -> torch.Tensor:
    """One image's mask from its prompt sets' logits (S, H, W): their union.

    The pixelwise maximum of the logits, so ``mask = logits > 0`` is the
    union of the sets' masks and training reaches the box that claims each
    pixel most strongly. Apply it at the output size (after
    :meth:`SamInputTransform.postprocess_masks`), where the masks are compared.
    """
    if len(logits) == 1:
        return logits[0]  # one prompt set: nothing to unite (and nothing kept for backward)
    return logits.amax(dim=0)


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
                boxes: Optional[torch.Tensor] = None,
                multimask_output: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
        """Predict one mask for prompts in original-image pixels.

        Args:
            points: (x, y) pixels, shape (N, 2).
            point_labels: 1 = foreground, 0 = background, shape (N, ).
            boxes: XYXY pixels, shape (4, ) or (M, 4); the masks of several
                boxes are united.
            multimask_output: Decode three candidates per box and keep the
                one with the best predicted IoU.

        Returns:
            Logits (H, W) at the original size (mask = logits > 0) and the
            predicted IoU (scalar tensor; the mean over boxes).
        """
        if self.embedding is None:
            raise RuntimeError('call set_image() or set_embedding() before predict()')
        sparse, dense = embed_prompts(self.sam, self.transform, self.original_size, points,
                                      point_labels, boxes)
        low_res, iou = decode_masks(self.sam, self.embedding, sparse, dense, multimask_output)
        logits, best_iou = best_candidates(low_res, iou)
        logits = self.transform.postprocess_masks(logits[:, None], self.original_size)
        return unite_masks(logits[:, 0]), best_iou.mean()

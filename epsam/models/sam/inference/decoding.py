"""SAM's prompt encoder and mask decoder as functions (never ``Sam.forward``).

They keep autograd state as the caller sets it, so the tuning model trains
through them and :class:`~epsam.models.sam.SamMaskPredictor` infers through
them: prompts into embeddings, embeddings into candidate logits, the best
candidate per prompt set, and one image's prompt sets united.
"""
from typing import Optional, Tuple

import torch
from segment_anything.modeling import Sam
from segment_anything.modeling.mask_decoder import MaskDecoder

from ..building.input_transform import SamInputTransform

__all__ = ['embed_prompts', 'decode_masks', 'decode_repeated', 'best_candidates', 'unite_masks']

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
    """Run the mask decoder for the prompt sets of one or more images.

    With one image this is ``sam.mask_decoder``, which repeats the embedding
    for each prompt set. With ``B`` images, each holding ``S`` prompt sets
    (sets ordered image by image), each embedding is repeated ``S`` times and
    the decoder runs once on all ``B * S`` sets (:func:`decode_repeated`).

    Args:
        sam: The model (its ``mask_decoder`` and positional encoding are used).
        image_embedding: The image encoder's output, shape (C, g, g) or (B, C, g, g).
        sparse: Sparse prompt embeddings (B * S, N', C).
        dense: Dense prompt embeddings (B * S, C, g, g).
        multimask_output: Predict SAM's three candidate masks instead of one.

    Returns:
        Low-resolution logits (B * S, K, 4g, 4g) and predicted IoUs (B * S, K),
        with K = 3 if ``multimask_output`` else 1.
    """
    if image_embedding.ndim == 3:
        image_embedding = image_embedding[None]
    expected = (sam.prompt_encoder.embed_dim, *sam.prompt_encoder.image_embedding_size)
    images = image_embedding.shape[0]
    if tuple(image_embedding.shape[1:]) != expected or len(sparse) % max(images, 1):
        raise ValueError(f'image embedding must have shape (B, {expected[0]}, {expected[1]}, '
                         f'{expected[2]}) for this SAM with B dividing the {len(sparse)} '
                         f'prompt set(s), got {tuple(image_embedding.shape)}')
    image_pe = sam.prompt_encoder.get_dense_pe()
    if images == 1:
        return sam.mask_decoder(image_embeddings=image_embedding, image_pe=image_pe,
                                sparse_prompt_embeddings=sparse,
                                dense_prompt_embeddings=dense,
                                multimask_output=multimask_output)
    repeated = image_embedding.repeat_interleave(len(sparse) // images, dim=0)
    return decode_repeated(sam.mask_decoder, repeated, image_pe, sparse, dense,
                           multimask_output)


def decode_repeated(decoder: MaskDecoder, embeddings: torch.Tensor, image_pe: torch.Tensor,
                    sparse: torch.Tensor, dense: torch.Tensor,
                    multimask_output: bool) -> Tuple[torch.Tensor, torch.Tensor]:
    """``MaskDecoder.forward`` with one image embedding per prompt set.

    ``segment_anything``'s decoder repeats a single image's embedding for
    each prompt set; here ``embeddings`` (P, C, g, g) is already one per set,
    so prompt sets of several images run in one call. Results equal the
    per-image decoder up to float rounding (the matrix shapes differ).
    """
    tokens = torch.cat([decoder.iou_token.weight, decoder.mask_tokens.weight], dim=0)
    tokens = torch.cat((tokens[None].expand(len(sparse), -1, -1), sparse), dim=1)
    src = embeddings + dense
    batch, channels, height, width = src.shape
    hs, src = decoder.transformer(src, image_pe.expand(batch, -1, -1, -1), tokens)
    mask_tokens = hs[:, 1:1 + decoder.num_mask_tokens, :]
    upscaled = decoder.output_upscaling(src.transpose(1, 2).view(batch, channels, height, width))
    hyper_in = torch.stack([mlp(mask_tokens[:, i, :]) for i, mlp in
                            enumerate(decoder.output_hypernetworks_mlps)], dim=1)
    batch, channels, height, width = upscaled.shape
    masks = (hyper_in @ upscaled.view(batch, channels, height * width)).view(
        batch, -1, height, width)
    iou = decoder.iou_prediction_head(hs[:, 0, :])
    keep = slice(1, None) if multimask_output else slice(0, 1)
    return masks[:, keep], iou[:, keep]


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

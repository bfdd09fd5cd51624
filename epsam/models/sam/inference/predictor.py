"""SAM's one inference road: embeddings from an embedder, prompts decoded in batches.

In the two-level style of ``segment_anything.SamPredictor``: images are
embedded once (stock encoder, embedding cache or adapter-tuned SAM: see
:mod:`~epsam.models.sam.inference.embedders`), then prompts are decoded cheaply. Many
images go through one call: :meth:`SamMaskPredictor.embed` encodes a batch,
and :meth:`SamMaskPredictor.decode` decodes every image's prompts, grouping
up to ``decode_batch`` images whose prompt sets have the same shape into one
mask-decoder call. Each prompt set keeps its best candidate and one image's
sets (boxes) are united.
"""
import time
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from segment_anything.modeling import Sam

from ..building.input_transform import SamInputTransform
from .decoding import best_candidates, decode_masks, embed_prompts, unite_masks
from .embedders import EncoderEmbedder, embed_counted

__all__ = ['SamMaskPredictor']

SizeHW = Tuple[int, int]


def _shape_key(inputs: Dict[str, Optional[torch.Tensor]]) -> Tuple:
    """Images may share a decoder call when their prompt tensors have equal shapes."""
    return tuple(None if value is None else tuple(value.shape) for value in inputs.values())


def _cat(values: List[Optional[torch.Tensor]]) -> Optional[torch.Tensor]:
    return None if values[0] is None else torch.cat(values)


class SamMaskPredictor:
    """Prompted SAM inference over many images per call.

    Args:
        sam: A built SAM (see :func:`~epsam.models.sam.build_sam`); moved to
            ``device`` and put in eval mode.
        embedder: Source of image embeddings with ``get_or_compute(images,
            device=)``: a :class:`~epsam.models.sam.SamEmbeddingCache`, an
            :class:`~epsam.models.sam.AdaptedSamEmbedder`, or ``None`` for
            :class:`~epsam.models.sam.EncoderEmbedder` (``sam.image_encoder``).
        device: Where SAM runs (default: where it is).
        multimask_output: Decode SAM's three candidates per prompt set and
            keep the one with the highest predicted IoU.
        decode_batch: Most images per mask-decoder call. 1 (default) decodes
            image by image, bit for bit as ``segment_anything``; larger values
            run images with equally shaped prompts together, faster but equal
            only up to float rounding (logits differ by ~1e-5). It stays
            opt-in because that rounding reaches the masks: on 16 synthetic
            512 px patches, ``decode_batch=8`` vs 1 changed 1 pixel of 1 mask
            (of 4.2 M pixels) for LiteMedSAM (bundled weights, 50 CAM points)
            and for the tiny stand-in (full-image box), so the pseudo-label
            PNGs would not be byte-identical.
    """

    def __init__(self, sam: Sam, embedder: Optional[object] = None,
                 device: Optional[Union[str, torch.device]] = None,
                 multimask_output: bool = False, decode_batch: int = 1) -> None:
        if isinstance(decode_batch, bool) or not isinstance(decode_batch, int) \
                or decode_batch < 1:
            raise ValueError(f'decode_batch must be an int >= 1, got {decode_batch!r}')
        self.device = torch.device(device) if device is not None else sam.pixel_mean.device
        self.sam = sam.to(self.device).eval()
        self.transform = SamInputTransform.from_sam(self.sam)
        self.embedder = EncoderEmbedder(self.sam) if embedder is None else embedder
        self.multimask_output = bool(multimask_output)
        self.decode_batch = decode_batch
        self.images_encoded = 0
        self.encoder_calls = 0
        self.seconds: Dict[str, float] = dict(encode=0.0, decode=0.0)
        self.embedding: Optional[torch.Tensor] = None
        self.original_size: Optional[SizeHW] = None

    def _sync(self) -> None:
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)

    # --- many images --------------------------------------------------------------
    def embed(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """Embeddings (B, C, g, g) of RGB uint8 images (H, W, 3) (sizes may differ)."""
        start = time.perf_counter()
        for image in images:
            if image.ndim != 3 or image.shape[2] != 3:
                raise ValueError(f'expected RGB images of shape (H, W, 3), got {image.shape}')
        tensors = [torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
                   for image in images]
        embeddings, encoded, calls = embed_counted(self.embedder, tensors, self.device)
        self.images_encoded += encoded
        self.encoder_calls += calls
        self._sync()
        self.seconds['encode'] += time.perf_counter() - start
        return embeddings

    @torch.no_grad()
    def decode(self, embeddings: Sequence[torch.Tensor],
               prompts: Sequence[object]) -> List[Tuple[torch.Tensor, float]]:
        """Each image's prompts -> its united logits at the image size and mean IoU.

        Args:
            embeddings: One (C, g, g) embedding per image.
            prompts: One non-empty :class:`~epsam.prompts.Prompts` per image,
                in that image's frame (its ``image_size``). Each box is
                decoded with every point; the masks of several boxes are united.

        Returns:
            Per image: logits (H, W) (mask = logits > 0) and the predicted IoU
            (mean over the prompt sets).
        """
        start = time.perf_counter()
        inputs = [p.to_sam_frame(self.transform.img_size).to_sam_inputs(self.device)
                  for p in prompts]
        groups: Dict[Tuple, List[int]] = {}
        for index, one in enumerate(inputs):
            groups.setdefault(_shape_key(one), []).append(index)
        results: List[Optional[Tuple[torch.Tensor, float]]] = [None] * len(inputs)
        for members in groups.values():
            for first in range(0, len(members), self.decode_batch):
                chunk = members[first:first + self.decode_batch]
                logits, ious = self._decode_group([embeddings[i] for i in chunk],
                                                  [inputs[i] for i in chunk])
                sets = len(logits) // len(chunk)
                for offset, index in enumerate(chunk):
                    rows = slice(offset * sets, (offset + 1) * sets)
                    full = self.transform.postprocess_masks(logits[rows, None],
                                                            prompts[index].image_size)
                    results[index] = unite_masks(full[:, 0]), float(ious[rows].mean())
        self._sync()
        self.seconds['decode'] += time.perf_counter() - start
        return results

    def _decode_group(self, embeddings: List[torch.Tensor],
                      inputs: List[Dict[str, Optional[torch.Tensor]]]
                      ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Best-candidate low-res logits (B * S, h, w) and IoUs of equally shaped prompts."""
        points = None
        if inputs[0]['point_coords'] is not None:
            points = (_cat([one['point_coords'] for one in inputs]),
                      _cat([one['point_labels'] for one in inputs]))
        sparse, dense = self.sam.prompt_encoder(
            points=points, boxes=_cat([one['boxes'] for one in inputs]),
            masks=_cat([one['mask_inputs'] for one in inputs]))
        stacked = torch.stack([e.to(self.device) for e in embeddings])
        low_res, iou = decode_masks(self.sam, stacked, sparse, dense, self.multimask_output)
        return best_candidates(low_res, iou)

    # --- one image, tensor prompts (segment_anything's SamPredictor style) ---------
    def set_image(self, image: np.ndarray) -> torch.Tensor:
        """Encode an RGB uint8 image (H, W, 3); the embedding (C, g, g) is kept for
        :meth:`predict` and returned."""
        embedding = self.embed([image])[0]
        self.set_embedding(embedding, image.shape[:2])
        return embedding

    def set_embedding(self, embedding: torch.Tensor, original_size: SizeHW) -> None:
        """Use a precomputed (cached) embedding (C, g, g) of an image of (H, W)."""
        self.embedding = embedding.to(self.device)
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

"""Batched, prompted SAM inference over CAM-stage items (no selection, no writing).

For each item the image, its CAM and its initial (CAM) mask are read, prompts
are drawn with a generator seeded from ``(seed, stem)``, images with prompts
are encoded ``batch_size`` at a time (directly under ``no_grad``, or through an
embedding cache), and each image's prompts are decoded into one binary mask at
the image's size.
"""
import time
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from segment_anything.modeling import Sam

from epsam.fileio.cam_store import CamFileError, load_cam, load_label_png
from epsam.fileio.errors import PatchFileError
from epsam.fileio.items import PseudoLabelItem, item_rng
from epsam.fileio.patch_io import read_patch_image
from epsam.models.sam import SamInputTransform
from epsam.prompts import BasePromptGenerator, Prompts
from epsam.registry import PROMPT_GENERATORS, build_if_config

__all__ = ['SamPrediction', 'BatchedSamPredictor', 'TIMING_KEYS']

#: Stages timed by :class:`BatchedSamPredictor` (seconds, accumulated).
TIMING_KEYS = ('read', 'prompts', 'encode', 'decode')


class SamPrediction(NamedTuple):
    """SAM's answer for one item.

    Args:
        item: The item.
        mask: ``(H, W)`` bool SAM mask (logit > 0), or ``None`` when the item
            had no prompt or failed.
        predicted_iou: SAM's IoU prediction (mean over boxes), or ``None``.
        cam_mask: ``(H, W)`` bool initial mask (foreground of the CAM mask),
            or ``None`` when reading failed.
        prompts: The prompts used, in the image's frame, or ``None``.
        error: The error met reading the item's files, or ``None``.
    """

    item: PseudoLabelItem
    mask: Optional[np.ndarray]
    predicted_iou: Optional[float]
    cam_mask: Optional[np.ndarray]
    prompts: Optional[Prompts]
    error: Optional[PatchFileError] = None


class _Loaded(NamedTuple):
    image: Optional[np.ndarray]  # RGB uint8 (H, W, 3)
    cam_mask: Optional[np.ndarray]
    prompts: Optional[Prompts]
    error: Optional[PatchFileError]


class BatchedSamPredictor:
    """Prompted SAM over many images, encoding them in batches.

    Args:
        sam: A built ``segment_anything`` SAM (moved to ``device``, eval mode).
        prompt_generator: Generator or its ``PROMPT_GENERATORS`` config,
            called as ``gen(cam (H, W) [0, 1], cam_mask (H, W) bool, rng)``.
        batch_size: Images per encoder forward pass.
        device: Where SAM runs.
        cache: Optional source of image embeddings with
            ``get_or_compute(images, device=)``: an embedding cache
            (:class:`~epsam.models.sam.SamEmbeddingCache`), or an
            :class:`~epsam.models.sam.AdaptedSamEmbedder` for a SAM tuned
            with an adapter (the adapter must be in the embedding path).
        seed: Base seed of the per-item prompt generators.
        multimask_output: Decode SAM's three candidates per prompt set and keep
            the one with the highest predicted IoU.
        cam_channel: CAM channel (index into ``cls_classes``) to prompt from.
        foreground_value: Value of the initial mask that marks that class.
    """

    def __init__(self,
                 sam: Sam,
                 prompt_generator: Union[dict, BasePromptGenerator],
                 batch_size: int = 4,
                 device: Union[str, torch.device] = 'cpu',
                 cache: Optional[object] = None,
                 seed: int = 0,
                 multimask_output: bool = False,
                 cam_channel: int = 0,
                 foreground_value: int = 1) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f'batch_size must be an int >= 1, got {batch_size!r}')
        self.device = torch.device(device)
        self.sam = sam.to(self.device).eval()
        self.transform = SamInputTransform.from_sam(self.sam)
        self.prompt_generator = build_if_config(PROMPT_GENERATORS, prompt_generator)
        self.batch_size = batch_size
        self.cache = cache
        item_rng(seed, '')  # validates the seed
        self.seed = int(seed)
        self.multimask_output = bool(multimask_output)
        self.cam_channel = int(cam_channel)
        self.foreground_value = int(foreground_value)
        self.images_encoded = 0
        self.encoder_calls = 0
        self.seconds: Dict[str, float] = dict.fromkeys(TIMING_KEYS, 0.0)

    # --- reading and prompting --------------------------------------------------
    def load(self, item: PseudoLabelItem) -> _Loaded:
        """Read the item's files and draw its prompts; file problems become ``error``."""
        start = time.perf_counter()
        try:
            image = read_patch_image(item.img_path)[..., ::-1]
            size = image.shape[:2]
            record = load_cam(item.cam_path, image_size=size)
            if not 0 <= self.cam_channel < record.num_classes:
                raise CamFileError(item.cam_path, f'has {record.num_classes} CAM channel(s); '
                                   f'cam_channel={self.cam_channel} does not exist')
            label = load_label_png(item.mask_path, image_size=size)
        except PatchFileError as err:
            self.seconds['read'] += time.perf_counter() - start
            return _Loaded(None, None, None, err)
        cam_mask = label == self.foreground_value
        middle = time.perf_counter()
        self.seconds['read'] += middle - start
        prompts = self.prompt_generator(record.cam[self.cam_channel], cam_mask,
                                        item_rng(self.seed, item.stem))
        self.seconds['prompts'] += time.perf_counter() - middle
        return _Loaded(np.ascontiguousarray(image), cam_mask, prompts, None)

    # --- encoding -----------------------------------------------------------------
    def _sync(self) -> None:
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)

    def encode(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """Embeddings ``(B, C, g, g)`` of RGB uint8 images ``(H, W, 3)`` (sizes may differ)."""
        start = time.perf_counter()
        tensors = [torch.from_numpy(image).permute(2, 0, 1) for image in images]
        if self.cache is not None:
            embeddings, encoded, calls = embed_with_cache(self.cache, tensors, self.device)
        else:
            with torch.no_grad():
                batch = torch.cat([self.transform.preprocess(t[None].to(self.device))
                                   for t in tensors])
                embeddings = self.sam.image_encoder(batch)
            encoded, calls = len(tensors), 1
        self.images_encoded += encoded
        self.encoder_calls += calls
        self._sync()
        self.seconds['encode'] += time.perf_counter() - start
        return embeddings

    # --- decoding -----------------------------------------------------------------
    @torch.no_grad()
    def decode(self, embedding: torch.Tensor, prompts: Prompts) -> Tuple[np.ndarray, float]:
        """One image's prompts -> ``(H, W)`` bool mask and the mean predicted IoU.

        Each box is decoded with every point (SAM predicts one mask per box);
        the masks of several boxes are united.

        Args:
            embedding: ``(C, g, g)`` image embedding.
            prompts: Non-empty prompts in the image's frame.
        """
        start = time.perf_counter()
        inputs = prompts.to_sam_frame(self.transform.img_size).to_sam_inputs(self.device)
        points = None
        if inputs['point_coords'] is not None:
            points = (inputs['point_coords'], inputs['point_labels'])
        sparse, dense = self.sam.prompt_encoder(points=points, boxes=inputs['boxes'],
                                                masks=inputs['mask_inputs'])
        low_res, iou = self.sam.mask_decoder(
            image_embeddings=embedding[None].to(self.device),
            image_pe=self.sam.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
            multimask_output=self.multimask_output)
        best = iou.argmax(dim=1)
        rows = torch.arange(len(best), device=best.device)
        logits, best_iou = low_res[rows, best], iou[rows, best]
        full = self.transform.postprocess_masks(logits[:, None], prompts.image_size)
        mask = (full[:, 0] > 0).any(dim=0).cpu().numpy()
        self._sync()
        self.seconds['decode'] += time.perf_counter() - start
        return mask, float(best_iou.mean())

    # --- the loop -----------------------------------------------------------------
    def predict(self, items: Sequence[PseudoLabelItem]) -> Iterator[SamPrediction]:
        """Yield one :class:`SamPrediction` per item, in order.

        Images without prompts (empty CAM mask) or with unreadable files are
        never encoded.
        """
        for start in range(0, len(items), self.batch_size):
            chunk = items[start:start + self.batch_size]
            loaded = [self.load(item) for item in chunk]
            todo = [i for i, one in enumerate(loaded) if one.error is None
                    and not one.prompts.is_empty]
            embeddings = self.encode([loaded[i].image for i in todo]) if todo else []
            by_index = dict(zip(todo, embeddings))
            for i, (item, one) in enumerate(zip(chunk, loaded)):
                mask, iou = None, None
                if i in by_index:
                    mask, iou = self.decode(by_index[i], one.prompts)
                yield SamPrediction(item, mask, iou, one.cam_mask, one.prompts, one.error)

    def stats(self) -> Dict[str, object]:
        """Encoder work and seconds per stage since creation."""
        return dict(images_encoded=self.images_encoded, encoder_calls=self.encoder_calls,
                    seconds=dict(self.seconds))


def embed_with_cache(cache: object, images: List[torch.Tensor],
                     device: torch.device) -> Tuple[torch.Tensor, int, int]:
    """Embeddings from an embedding cache, and how much encoding it did.

    The one place that knows the cache's API: ``cache.get_or_compute(images,
    device=)`` returns ``(B, C, g, g)``; ``cache.stats()`` (when present)
    counts ``encoder_passes`` (images encoded) and ``encoder_batches``.

    Args:
        cache: The cache object.
        images: RGB images ``(3, H, W)`` on the 0-255 scale.
        device: Where the embeddings are wanted.

    Returns:
        ``(embeddings, images_encoded, encoder_calls)``.
    """
    if not hasattr(cache, 'get_or_compute'):
        raise TypeError(f'cache must have a get_or_compute(images, device=) method, got '
                        f'{type(cache).__name__}')
    before = cache.stats() if hasattr(cache, 'stats') else {}
    embeddings = cache.get_or_compute(images, device=device)
    after = cache.stats() if hasattr(cache, 'stats') else {}
    passes = after.get('encoder_passes', 0) - before.get('encoder_passes', 0)
    calls = after.get('encoder_batches', 0) - before.get('encoder_batches', 0)
    return embeddings, passes, calls

"""Batched, prompted SAM inference over CAM-stage items (no selection, no writing).

For each item the image, its CAM and its initial (CAM) mask are read, prompts
are drawn with a generator seeded from ``(seed, stem)``, images with prompts
are embedded ``batch_size`` at a time and their prompts decoded together by
:class:`~epsam.models.sam.SamMaskPredictor` (SAM's one inference road), each
image's prompts into one binary mask at the image's size.
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
from epsam.models.sam.inference.predictor import SamMaskPredictor
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
    """CAM-prompted SAM over pseudo-label items: read, prompt, then one predictor call.

    Args:
        sam: A built ``segment_anything`` SAM (moved to ``device``, eval mode).
        prompt_generator: Generator or its ``PROMPT_GENERATORS`` config,
            called as ``gen(cam (H, W) [0, 1], cam_mask (H, W) bool, rng)``.
        batch_size: Images per encoder forward pass.
        device: Where SAM runs.
        cache: Optional embedder of :class:`~epsam.models.sam.SamMaskPredictor`
            (an embedding cache, or an
            :class:`~epsam.models.sam.AdaptedSamEmbedder` for a SAM tuned
            with an adapter); ``None``: SAM's image encoder.
        seed: Base seed of the per-item prompt generators.
        multimask_output: Decode SAM's three candidates per prompt set and keep
            the one with the highest predicted IoU.
        cam_channel: CAM channel (index into ``cls_classes``) to prompt from.
        foreground_value: Value of the initial mask that marks that class.
        decode_batch: Most images per mask-decoder call (see
            :class:`~epsam.models.sam.SamMaskPredictor`; 1 is bit-exact).
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
                 foreground_value: int = 1,
                 decode_batch: int = 1) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f'batch_size must be an int >= 1, got {batch_size!r}')
        self.sam_predictor = SamMaskPredictor(sam, embedder=cache, device=device,
                                              multimask_output=multimask_output,
                                              decode_batch=decode_batch)
        self.device = self.sam_predictor.device
        self.sam = self.sam_predictor.sam
        self.prompt_generator = build_if_config(PROMPT_GENERATORS, prompt_generator)
        self.batch_size = batch_size
        self.cache = cache
        item_rng(seed, '')  # validates the seed
        self.seed = int(seed)
        self.multimask_output = bool(multimask_output)
        self.cam_channel = int(cam_channel)
        self.foreground_value = int(foreground_value)
        self.seconds: Dict[str, float] = dict(read=0.0, prompts=0.0)

    @property
    def images_encoded(self) -> int:
        """Images run through SAM's image encoder since creation."""
        return self.sam_predictor.images_encoded

    @property
    def encoder_calls(self) -> int:
        """Image-encoder calls since creation."""
        return self.sam_predictor.encoder_calls

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

    # --- SAM ---------------------------------------------------------------------
    def encode(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """Embeddings ``(B, C, g, g)`` of RGB uint8 images ``(H, W, 3)`` (sizes may differ)."""
        return self.sam_predictor.embed(images)

    def decode(self, embedding: torch.Tensor, prompts: Prompts) -> Tuple[np.ndarray, float]:
        """One image's prompts -> ``(H, W)`` bool mask and the mean predicted IoU."""
        return self.decode_many([embedding], [prompts])[0]

    def decode_many(self, embeddings: Sequence[torch.Tensor],
                    prompts: Sequence[Prompts]) -> List[Tuple[np.ndarray, float]]:
        """Per image ``(H, W)`` bool mask and mean predicted IoU (one predictor call).

        Args:
            embeddings: ``(C, g, g)`` image embeddings.
            prompts: Non-empty prompts in each image's frame.
        """
        return [((logits > 0).cpu().numpy(), iou)
                for logits, iou in self.sam_predictor.decode(embeddings, prompts)]

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
            decoded = {}
            if todo:
                embeddings = self.encode([loaded[i].image for i in todo])
                decoded = dict(zip(todo, self.decode_many(
                    list(embeddings), [loaded[i].prompts for i in todo])))
            for i, (item, one) in enumerate(zip(chunk, loaded)):
                mask, iou = decoded.get(i, (None, None))
                yield SamPrediction(item, mask, iou, one.cam_mask, one.prompts, one.error)

    def stats(self) -> Dict[str, object]:
        """Encoder work and seconds per stage since creation."""
        return dict(images_encoded=self.images_encoded, encoder_calls=self.encoder_calls,
                    seconds=dict(self.seconds, **self.sam_predictor.seconds))

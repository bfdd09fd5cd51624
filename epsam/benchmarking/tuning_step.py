"""One measured training step of a SAM tuning variant (memory/speed benchmark).

The variants are those of CAD's comparison (arXiv 2409.15889), each a
:class:`~epsam.models.sam.SamTuningModel` config in
``configs/_base_/models/sam_tuning_{name}.py`` (or a per-size
``sam_tuning_{name}_{size}.py`` where one exists):

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
from contextlib import contextmanager
from itertools import chain
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from torch.utils.flop_counter import FlopCounterMode

from epsam.apis import init_model
from epsam.models.adapters import count_parameters

from .memory import SavedTensorCounter, current_rss_bytes, peak_rss_bytes, reset_peak_rss

__all__ = ['TUNING_VARIANTS', 'IN_ENCODER_VARIANTS', 'VARIANT_SIZES', 'variant_config_path',
           'load_variant_model_cfg', 'build_tuning_model', 'make_training_batch',
           'warm_embedding_cache', 'measure_training_step', 'make_training_batches',
           'time_training_epoch', 'training_step_flops']

TUNING_VARIANTS: Tuple[str, ...] = ('decoder_only', 'cad', 'cad_lean', 'sam_adapter',
                                    'bottleneck', 'lora')
IN_ENCODER_VARIANTS = frozenset({'sam_adapter', 'bottleneck', 'lora'})
VARIANT_SIZES: Tuple[str, ...] = ('vit_b', 'tiny', 'lite_medsam')
#: The ``sam_tuning_*_{size}.py`` file each SAM size reads where per-size
#: files exist; otherwise every size reads ``sam_tuning_{name}.py`` (ViT-B
#: settings) with ``sam.variant`` replaced.
SIZE_CONFIG_FILES = {'vit_b': 'vit_b', 'tiny': 'tiny', 'lite_medsam': 'vit_b'}
#: CAD adapter input of a size read from the shared ViT-B file (the former
#: per-size file's value), unless ``adapter_input`` is given.
SIZE_ADAPTER_INPUT = {'tiny': 128}


def _config_candidates(config_dir: Union[str, Path], name: str, size: str) -> Tuple[Path, Path]:
    """The per-size config file, then the shared one."""
    folder = Path(config_dir)
    return (folder / f'sam_tuning_{name}_{SIZE_CONFIG_FILES[size]}.py',
            folder / f'sam_tuning_{name}.py')


def variant_config_path(config_dir: Union[str, Path], name: str, size: str) -> Path:
    """Config file of a variant: ``sam_tuning_{name}_{size}.py`` if it exists,
    else ``sam_tuning_{name}.py`` (the per-size path when neither exists).

    Raises:
        ValueError: ``name`` or ``size`` is not a known variant / SAM size.
    """
    if name not in TUNING_VARIANTS:
        raise ValueError(f'unknown tuning variant {name!r}; choose from {list(TUNING_VARIANTS)}')
    if size not in VARIANT_SIZES:
        raise ValueError(f'unknown SAM size {size!r} for the tuning configs; '
                         f'choose from {list(VARIANT_SIZES)}')
    per_size, shared = _config_candidates(config_dir, name, size)
    return shared if not per_size.is_file() and shared.is_file() else per_size


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
        tried = ' or '.join(str(p) for p in _config_candidates(config_dir, name, size))
        raise FileNotFoundError(f'tuning config for {name!r} at {size!r} not found: {tried}')
    cfg = Config.fromfile(str(path))
    if 'model' not in cfg:
        raise ValueError(f'{path}: the config defines no "model" dict')
    model = cfg.model.to_dict()
    model['sam'] = dict(model.get('sam') or {}, checkpoint=None, pretrained=False)
    shared_file = path.name == f'sam_tuning_{name}.py'
    if SIZE_CONFIG_FILES[size] != size or shared_file:
        model['sam']['variant'] = size
    if adapter_input is None and shared_file:
        adapter_input = SIZE_ADAPTER_INPUT.get(size)
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
    model = init_model(Config(dict(model=model_cfg)), device=str(device))
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


def _adamw(model: torch.nn.Module, lr: float, weight_decay: float,
           caller: str) -> torch.optim.Optimizer:
    """AdamW over the model's trainable parameters (refused when there are none)."""
    trainable = [param for param in model.parameters() if param.requires_grad]
    if not trainable:
        raise ValueError(f'{caller}: the model has no trainable parameter')
    return torch.optim.AdamW(trainable, lr=lr, weight_decay=weight_decay)


def _count_encoder_images(model: torch.nn.Module) -> Tuple[List[int], Any]:
    """A list the image encoder appends each call's batch size to, and the hook's handle."""
    encoder_images: List[int] = []
    handle = model.sam.image_encoder.register_forward_pre_hook(
        lambda _module, args: encoder_images.append(int(args[0].shape[0])))
    return encoder_images, handle


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
    optimizer = _adamw(model, lr, weight_decay, 'measure_training_step')
    encoder_images, handle = _count_encoder_images(model)
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
            loss = model.parse_losses(model(**data, mode='loss'))[0]
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


def training_step_flops(model: torch.nn.Module, data: dict) -> int:
    """FLOPs of one training step's loss forward and backward, counted by ``FlopCounterMode``.

    2 x multiply-adds of the matrix products and convolutions (element-wise
    work is not counted); recomputed forwards of activation checkpointing are
    counted where they run, in the backward. The gradients are cleared
    afterwards and no optimizer step is taken, so the weights are unchanged.
    With a warm embedding cache the frozen encoder does not run, so the count
    is what the cache cannot save.

    Args:
        model: A :class:`~epsam.models.sam.SamTuningModel` in train mode.
        data: A batch from :func:`make_training_batch`.
    """
    counter = FlopCounterMode(display=False)
    with counter:
        model.parse_losses(model(**data, mode='loss'))[0].backward()
    model.zero_grad(set_to_none=True)
    return int(counter.get_total_flops())


def make_training_batches(model: torch.nn.Module, num_images: int, batch_size: int,
                          image_size: int, seed: int = 0) -> List[dict]:
    """``ceil(num_images / batch_size)`` batches of :func:`make_training_batch`,
    each with its own content seed (so every image is a distinct cache key)."""
    if int(num_images) != num_images or num_images < 1:
        raise ValueError(f'make_training_batches: num_images must be a positive integer, '
                         f'got {num_images!r}')
    sizes = [min(batch_size, num_images - start) for start in range(0, num_images, batch_size)]
    return [make_training_batch(model, size, image_size, seed=seed + index)
            for index, size in enumerate(sizes)]


@contextmanager
def _forward_seconds(modules: Dict[str, Optional[torch.nn.Module]],
                     totals: Dict[str, float]) -> Iterator[None]:
    """Add each module's forward wall time to ``totals[name]`` (hooks; outermost calls)."""
    handles, starts = [], {}

    def pre(name):
        def hook(*_):
            starts.setdefault(name, time.perf_counter())
        return hook

    def post(name):
        def hook(*_):
            totals[name] += time.perf_counter() - starts.pop(name)
        return hook

    for name, module in modules.items():
        if module is None:
            continue
        totals.setdefault(name, 0.0)
        handles.append(module.register_forward_pre_hook(pre(name)))
        handles.append(module.register_forward_hook(post(name)))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def time_training_epoch(model: torch.nn.Module, batches: List[dict], lr: float = 2e-4,
                        weight_decay: float = 1e-2) -> Dict[str, object]:
    """One epoch of training steps (loss forward, backward, AdamW step) over ``batches``, timed.

    Where the time goes: forward wall time of the image encoder and of the
    adapter (hooks), time in the embedding cache's ``get_or_compute`` (its
    encoder passes included) and the rest (prompt encoder, mask decoder,
    loss, every backward pass and the optimizer).

    Args:
        model: A :class:`~epsam.models.sam.SamTuningModel` in train mode.
        batches: From :func:`make_training_batches` (already preprocessed).
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.

    Returns:
        ``epoch_s``, ``images``, ``steps``, ``encoder_images``,
        ``encoder_forward_s``, ``adapter_forward_s``, ``cache_lookup_s``,
        ``other_s`` and ``cache`` (hits/misses/encoder passes during the
        epoch, or ``None`` without a cache).
    """
    device = next(model.parameters()).device
    optimizer = _adamw(model, lr, weight_decay, 'time_training_epoch')
    encoder_images, counter = _count_encoder_images(model)
    totals = dict(cache_lookup=0.0)
    cache = getattr(model, 'embedding_cache', None)
    cache_before = cache.stats() if cache is not None else None
    lookup = cache.get_or_compute if cache is not None else None
    if cache is not None:
        _ = cache.encoder_fingerprint  # hashed once per training run, not per step

        def timed_lookup(*args, **kwargs):
            start = time.perf_counter()
            try:
                return lookup(*args, **kwargs)
            finally:
                totals['cache_lookup'] += time.perf_counter() - start

        cache.get_or_compute = timed_lookup
    parts = dict(encoder=model.sam.image_encoder, adapter=getattr(model, 'adapter', None))
    gc.collect()
    _synchronize(device)
    start = time.perf_counter()
    try:
        with _forward_seconds(parts, totals):
            for data in batches:
                loss = model.parse_losses(model(**data, mode='loss'))[0]
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            _synchronize(device)
        epoch_s = time.perf_counter() - start
    finally:
        counter.remove()
        if cache is not None:
            del cache.get_or_compute  # the bound method again
    cache_stats = None
    if cache is not None:
        after = cache.stats()
        cache_stats = {key: after[key] - cache_before[key]
                       for key in ('hits', 'misses', 'encoder_passes')}
    encoder_s = totals.get('encoder', 0.0)
    # With a cache the encoder runs inside the lookup (its misses): count it once.
    outside = totals['cache_lookup'] if cache is not None else encoder_s
    adapter_s = totals.get('adapter', 0.0)
    return dict(epoch_s=epoch_s, images=sum(int(d['inputs'].shape[0]) for d in batches),
                steps=len(batches), encoder_images=sum(encoder_images),
                encoder_forward_s=encoder_s, adapter_forward_s=adapter_s,
                cache_lookup_s=totals['cache_lookup'],
                other_s=max(epoch_s - outside - adapter_s, 0.0), cache=cache_stats,
                loss=float(loss.detach()))

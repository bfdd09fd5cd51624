"""Helpers of :mod:`epsam.cams.generation`: building parts, batched TTA, masks."""
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, List, Optional, Tuple, Union

import numpy as np
import torch
from torch import Tensor, nn

from epsam.fileio.patch_io import read_patch_image
from epsam.models.classifiers.cam_postprocess import minmax_normalize
from epsam.registry import CAM_METHODS, MASK_MAKERS, build_if_config

from .tta import TTACAM

#: Channels-last copies of conv weights: ``id(param) -> ((data_ptr, version), copy)``.
WeightCache = Dict[int, Tuple[Tuple[int, int], Tensor]]

__all__ = ['build_cam_method', 'build_mask_maker', 'compute_cams', 'compute_cams_and_logits',
           'channels_last', 'describe_component', 'make_mask', 'image_hwc', 'tta_copies',
           'is_square_batch', 'WeightCache']


def _build_callable(registry, cfg: Union[dict, Callable], what: str) -> Callable:
    """``cfg`` built from ``registry`` (a callable is returned as is); refuses a non-callable."""
    built = build_if_config(registry, cfg)
    if not callable(built):
        raise TypeError(f'{what}, got {built!r}')
    return built


def build_cam_method(cam_method: Union[dict, Callable]) -> Callable:
    """A CAM method from a ``CAM_METHODS`` config (or a callable, returned as is)."""
    return _build_callable(CAM_METHODS, cam_method, 'cam_method must be a CAM_METHODS config '
                           'or a callable (model, inputs) -> maps')


def build_mask_maker(mask_maker: Union[dict, Callable]) -> Callable:
    """A mask maker from a ``MASK_MAKERS`` config (or a callable, returned as is)."""
    return _build_callable(MASK_MAKERS, mask_maker,
                           'mask_maker must be a MASK_MAKERS config or a callable')


def describe_component(component) -> str:
    """A stable text description (no memory address) of a CAM method or mask maker."""
    if type(component).__repr__ is not object.__repr__:
        return repr(component)
    attributes = getattr(component, '__dict__', {})
    parts = ', '.join(f'{key}={describe_value(value)}' for key, value in sorted(attributes.items())
                      if not key.startswith('_'))
    return f'{type(component).__name__}({parts})'


def describe_value(value) -> str:
    """``repr`` for plain values, :func:`describe_component` for objects."""
    if value is None or isinstance(value, (bool, int, float, str, tuple, list, dict)):
        return repr(value)
    return describe_component(value)


@contextmanager
def channels_last(model: nn.Module, inputs: Tensor, enabled: bool = True,
                  cache: Optional[WeightCache] = None) -> Iterator[Tensor]:
    """Run ``model`` in the channels-last memory format within the block, on the CPU.

    oneDNN's convolutions and pooling run much faster on NHWC tensors (about
    1.7x for the tiny ResNet-18 at 128 px, 1 thread) and give the same values.
    The conv weights not yet channels-last are swapped for channels-last
    copies on entry and the original tensors put back on exit, so the model
    leaves the block as it came.

    Args:
        model: The classifier.
        inputs: (B, C, H, W) batch.
        enabled: ``False`` (or non-CPU inputs) yields ``inputs`` unchanged.
        cache: A dict kept by the caller across batches: the channels-last
            copies are made once and reused while a weight is unchanged
            (same storage and version), instead of converted per batch.

    Yields:
        ``inputs`` in the channels-last format (or unchanged).
    """
    if not enabled or inputs.device.type != 'cpu' or inputs.dim() != 4:
        yield inputs
        return
    # Only the 4-d (conv) weights change format: cheaper than ``model.to``.
    convs = [param for param in model.parameters()
             if param.dim() == 4 and not param.is_contiguous(memory_format=torch.channels_last)]
    originals = [param.data for param in convs]
    for param in convs:
        param.data = _channels_last_weight(param, cache)
    try:
        yield inputs.contiguous(memory_format=torch.channels_last)
    finally:
        for param, original in zip(convs, originals):
            param.data = original


def _channels_last_weight(param: nn.Parameter, cache: Optional[WeightCache]) -> Tensor:
    """A channels-last copy of ``param``, from ``cache`` while the weight is unchanged."""
    key = (param.data_ptr(), param._version)
    hit = cache.get(id(param)) if cache is not None else None
    if hit is None or hit[0] != key:
        hit = (key, param.data.contiguous(memory_format=torch.channels_last))
        if cache is not None:
            cache[id(param)] = hit
    return hit[1]


def compute_cams(cam_method: Callable, model: nn.Module, inputs: Tensor,
                 stack_tta: bool = True, nhwc: bool = True) -> Tensor:
    """Maps (B, K, H, W) in [0, 1] of a preprocessed batch (B, C, H, W).

    With a :class:`~epsam.cams.TTACAM` and square inputs, all augmented
    copies go through the wrapped method in one batch of ``B x copies``
    (``TTACAM`` itself runs one pass per copy); the transforms, their
    inverses, the average and the renormalisation are ``TTACAM``'s own, so
    the result equals ``cam_method(model, inputs)`` up to float rounding.

    Args:
        cam_method: The method (built).
        model: The classifier, in eval mode.
        inputs: (B, C, H, W) output of the model's data preprocessor.
        stack_tta: Stack the TTA copies (False: call ``cam_method`` as is).
        nhwc: Run the stacked copies in the channels-last format on the CPU
            (:func:`channels_last`; same values, faster).
    """
    return compute_cams_and_logits(cam_method, model, inputs, stack_tta, nhwc)[0]


def compute_cams_and_logits(cam_method: Callable, model: nn.Module, inputs: Tensor,
                            stack_tta: bool = True, nhwc: bool = True,
                            weight_cache: Optional[WeightCache] = None,
                            copies: Optional[Tensor] = None
                            ) -> Tuple[Tensor, Optional[Tensor]]:
    """:func:`compute_cams` plus the (B, K) logits of the un-augmented inputs.

    The logits are read from the classifier head while the CAM is computed
    (the un-augmented copy of a TTA batch), so no extra forward pass is
    needed. They are ``None`` when that is not possible (the head ran more
    or less than once, or no copy is un-augmented); compute them separately
    then. ``weight_cache`` is :func:`channels_last`'s ``cache``; ``copies``
    are :func:`tta_copies` of the same ``inputs`` made beforehand (used when
    the copies are stacked).
    """
    captured: List[Tensor] = []
    head = getattr(model, 'head', None)
    handle = head.register_forward_hook(
        lambda _module, _args, output: captured.append(output.detach())) \
        if isinstance(head, nn.Module) else None
    try:
        maps, identity_rows = _compute(cam_method, model, inputs, stack_tta, nhwc,
                                       weight_cache, copies)
    finally:
        if handle is not None:
            handle.remove()
    logits = None
    if len(captured) == 1 and identity_rows is not None and \
            captured[0].shape[0] >= identity_rows.stop:
        logits = captured[0][identity_rows]
    return maps, logits


def is_square_batch(inputs: Tensor) -> bool:
    """Whether ``inputs`` is a (B, C, S, S) batch, whose TTA copies can be stacked."""
    return inputs.dim() == 4 and inputs.shape[-1] == inputs.shape[-2]


def tta_copies(cam_method: TTACAM, inputs: Tensor, nhwc: bool = True) -> Tensor:
    """The augmented copies of a batch stacked as :func:`compute_cams` runs them.

    Copy ``i`` of every image sits in rows ``i * B`` to ``(i + 1) * B``. They
    are written straight into one buffer (channels-last when it will run so):
    one copy of the data instead of a cat and a conversion. Making them ahead
    (e.g. in a loader thread) and passing them as ``copies`` changes nothing.

    Args:
        cam_method: The TTA method.
        inputs: (B, C, S, S) square preprocessed batch.
        nhwc: As :func:`compute_cams`'s.
    """
    layout = torch.channels_last if nhwc and inputs.device.type == 'cpu' else \
        torch.contiguous_format
    inputs = inputs.contiguous(memory_format=layout)  # rotated views copy faster from it
    num, transforms = inputs.shape[0], cam_method.transforms
    copies = torch.empty((num * len(transforms), ) + tuple(inputs.shape[1:]),
                         dtype=inputs.dtype, device=inputs.device, memory_format=layout)
    for index, (turns, flip) in enumerate(transforms):
        copies[index * num:(index + 1) * num] = cam_method.apply(inputs, turns, flip)
    return copies


def _compute(cam_method: Callable, model: nn.Module, inputs: Tensor, stack_tta: bool,
             nhwc: bool = True, weight_cache: Optional[WeightCache] = None,
             copies: Optional[Tensor] = None) -> Tuple[Tensor, Optional[slice]]:
    """Maps, and the rows of the head's input batch that hold the un-augmented inputs."""
    num = inputs.shape[0]
    square = is_square_batch(inputs)
    if not isinstance(cam_method, TTACAM):
        return cam_method(model, inputs), slice(0, num)
    if not (stack_tta and square):
        return cam_method(model, inputs), None
    transforms = cam_method.transforms
    if copies is None:
        copies = tta_copies(cam_method, inputs, nhwc)
    with channels_last(model, copies, enabled=nhwc, cache=weight_cache) as copies:
        maps = cam_method.cam_method(model, copies).contiguous()
    total = None
    for index, (turns, flip) in enumerate(transforms):
        undone = cam_method.undo(maps[index * num:(index + 1) * num], turns, flip)
        total = undone if total is None else total + undone
    mean = total / len(transforms)
    maps = minmax_normalize(mean) if cam_method.renormalize else mean
    identity = [i for i, (turns, flip) in enumerate(transforms) if turns == 0 and not flip]
    return maps, slice(identity[0] * num, (identity[0] + 1) * num) if identity else None


def make_mask(mask_maker: Callable, cams: np.ndarray, label: Optional[np.ndarray],
              image: Optional[np.ndarray], img_path: str) -> np.ndarray:
    """The (H, W) uint8 initial mask of one image.

    Args:
        mask_maker: A binary maker (one CAM channel -> 0/1 mask) or a
            ``MultiClassMaskMaker``-like callable ``(cams, labels, image)``.
        cams: (K, H, W) CAMs in [0, 1].
        label: (K,) bool image label, or None when unknown.
        image: (H, W, 3) uint8 image (for a multi-class maker's white prior).
        img_path: Named in errors.
    """
    if hasattr(mask_maker, 'background_alpha'):  # MultiClassMaskMaker's signature
        return np.asarray(mask_maker(cams, label, image), dtype=np.uint8)
    if cams.shape[0] != 1:
        raise ValueError(f'{img_path}: {type(mask_maker).__name__} makes binary masks from one '
                         f'CAM channel, but the classifier has {cams.shape[0]} classes; use '
                         'MultiClassMaskMaker for multi-class data')
    mask = np.asarray(mask_maker(cams[0]))
    if mask.shape != cams.shape[1:]:
        raise ValueError(f'{img_path}: {type(mask_maker).__name__} returned a mask of shape '
                         f'{mask.shape}, expected {cams.shape[1:]}')
    return (mask > 0).astype(np.uint8)


def image_hwc(packed: dict, sample, size: Tuple[int, int]) -> np.ndarray:
    """The (H, W, 3) BGR uint8 image at ``size``: the packed input, or read from disk.

    Args:
        packed: The pipeline output (``inputs`` is uint8 (3, H, W) BGR).
        sample: Its data sample (``img_path``).
        size: (H, W) wanted (the image's original size).
    """
    image = packed['inputs']
    if tuple(image.shape[-2:]) == tuple(size):
        return image.permute(1, 2, 0).cpu().numpy().astype(np.uint8)
    return read_patch_image(sample.img_path)

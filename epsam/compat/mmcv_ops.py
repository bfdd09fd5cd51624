"""Pure-PyTorch stand-ins for the compiled ``mmcv.ops`` that mmseg imports.

mmsegmentation 1.2.2 imports ``mmcv.ops`` at module load (``point_sample`` in
``mmseg/utils/mask_classification.py`` and ``mmseg/models/utils/point_sample.py``,
``sigmoid_focal_loss`` in ``mmseg/models/losses/focal_loss.py``). With the
pure-Python ``mmcv-lite`` package, ``mmcv.ops`` fails to import because its
compiled extension ``mmcv._ext`` is missing, and so does ``import mmseg.models``.

:func:`install_mmcv_ops_fallback` registers a small ``mmcv.ops`` module that
provides pure-PyTorch versions of those ops. Any other op raises
:class:`MissingMmcvOpError` (a ``ModuleNotFoundError``, which is what mmseg's
optional imports in ``cc_head``/``psa_head``/``point_head`` tolerate) naming the
op and how to install full mmcv. Nothing is replaced when ``mmcv._ext`` exists.
"""
import importlib.util
import sys
import types
from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor

FALLBACK_MODULE_FLAG = '__epsam_fallback__'
INSTALL_HINT = ('install full mmcv (compiled ops), e.g. `pip install -U openmim && '
                'mim install "mmcv==2.1.0"`, in place of mmcv-lite')


class MissingMmcvOpError(ModuleNotFoundError):
    """Raised when code asks for an ``mmcv.ops`` op that has no fallback."""


def _normalize_to_grid(coords: Tensor) -> Tensor:
    """Map coordinates in [0, 1] to grid_sample's [-1, 1]."""
    return 2.0 * coords - 1.0


def point_sample(input: Tensor,
                 points: Tensor,
                 align_corners: bool = False,
                 **kwargs) -> Tensor:
    """Sample ``input`` at ``points`` with bilinear interpolation.

    Same contract as ``mmcv.ops.point_sample``.

    Args:
        input: Features, shape (N, C, H, W).
        points: Relative (x, y) coordinates in [0, 1], shape (N, P, 2) or
            (N, Hgrid, Wgrid, 2).
        align_corners: As in :func:`torch.nn.functional.grid_sample`.
        **kwargs: Passed on to :func:`torch.nn.functional.grid_sample`.

    Returns:
        Tensor: (N, C, P) or (N, C, Hgrid, Wgrid).
    """
    add_dim = points.dim() == 3
    if add_dim:
        points = points.unsqueeze(2)
    output = F.grid_sample(
        input, _normalize_to_grid(points), align_corners=align_corners, **kwargs)
    if add_dim:
        output = output.squeeze(3)
    return output


def sigmoid_focal_loss(input: Tensor,
                       target: Tensor,
                       gamma: float = 2.0,
                       alpha: float = 0.25,
                       weight: Optional[Tensor] = None,
                       reduction: str = 'mean') -> Tensor:
    """Sigmoid focal loss with integer class targets.

    Same contract as ``mmcv.ops.sigmoid_focal_loss``: a target equal to the
    number of classes (or any value outside ``[0, C)``) is background for every
    class.

    Args:
        input: Logits, shape (N, C).
        target: Class indices, shape (N,).
        gamma: Focusing parameter.
        alpha: Weight of the positive term.
        weight: Optional per-class weight, shape (C,).
        reduction: ``'none'``, ``'mean'`` or ``'sum'``.

    Returns:
        Tensor: the loss, shape (N, C) for ``'none'``, a scalar otherwise.
    """
    num_classes = input.size(1)
    target = target.long()
    valid = (target >= 0) & (target < num_classes)
    one_hot = torch.zeros_like(input)
    one_hot[valid] = F.one_hot(target[valid], num_classes).to(input.dtype)
    prob = input.sigmoid()
    pt = torch.where(one_hot > 0, prob, 1 - prob)
    alpha_t = torch.where(one_hot > 0, torch.full_like(input, alpha),
                          torch.full_like(input, 1 - alpha))
    # -log(pt) in the numerically stable log-sigmoid form.
    loss = alpha_t * (1 - pt).pow(gamma) * F.binary_cross_entropy_with_logits(
        input, one_hot, reduction='none')
    if weight is not None:
        loss = loss * weight.view(1, -1)
    if reduction == 'none':
        return loss
    if reduction == 'sum':
        return loss.sum()
    if reduction == 'mean':
        return loss.sum() / input.size(0)
    raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")


FALLBACK_OPS = {
    'point_sample': point_sample,
    'sigmoid_focal_loss': sigmoid_focal_loss,
}


def _missing_op(name: str):
    raise MissingMmcvOpError(
        f'mmcv.ops.{name} needs mmcv\'s compiled extension (mmcv._ext), which is '
        f'not installed (this environment has mmcv-lite; epsam provides pure-PyTorch '
        f'fallbacks only for {sorted(FALLBACK_OPS)}). To use {name}, {INSTALL_HINT}.')


def has_compiled_mmcv_ops() -> bool:
    """Whether mmcv's compiled extension ``mmcv._ext`` is importable."""
    try:
        return importlib.util.find_spec('mmcv._ext') is not None
    except (ImportError, ValueError):
        return False


def build_fallback_module() -> types.ModuleType:
    """A module object standing in for ``mmcv.ops``."""
    module = types.ModuleType('mmcv.ops', doc=__doc__)
    for name, fn in FALLBACK_OPS.items():
        setattr(module, name, fn)
    setattr(module, FALLBACK_MODULE_FLAG, True)

    def __getattr__(name: str):
        if name.startswith('__'):
            raise AttributeError(name)
        _missing_op(name)

    module.__getattr__ = __getattr__
    module.__all__ = list(FALLBACK_OPS)
    return module


def install_mmcv_ops_fallback(force: bool = False) -> Union[bool, None]:
    """Register the fallback ``mmcv.ops`` when mmcv's compiled ops are missing.

    Args:
        force: Install even when compiled ops exist (tests only).

    Returns:
        bool: True when the fallback is (now or already) in place.
    """
    current = sys.modules.get('mmcv.ops')
    if current is not None and getattr(current, FALLBACK_MODULE_FLAG, False):
        return True
    if not force and has_compiled_mmcv_ops():
        return False
    if current is not None and not force:
        # mmcv.ops was imported successfully before us: leave it alone.
        return False
    import warnings

    import mmcv

    # mmcv.cnn warns on import that MultiScaleDeformableAttention is missing;
    # with the fallback that is expected, and using the op raises a clear error.
    warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention``')
    module = build_fallback_module()
    sys.modules['mmcv.ops'] = module
    mmcv.ops = module
    return True


def is_fallback_active() -> bool:
    """Whether ``mmcv.ops`` is epsam's fallback module."""
    return bool(getattr(sys.modules.get('mmcv.ops'), FALLBACK_MODULE_FLAG, False))

"""One safe way to read checkpoints: weights only, explained, and fitted strictly.

- :func:`read_checkpoint` reads a file with ``torch.load(weights_only=True)``
  passed explicitly, so nothing pickled in a checkpoint can run code, whatever
  the environment says (torch honours ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``
  only where a call leaves ``weights_only`` unset).
- :func:`load_model_weights` loads a checkpoint into a model and refuses one
  whose keys or shapes do not fit, naming the counts and a few keys, instead
  of mmengine's warning and a model scored with random weights.
- :func:`install_weights_only_checkpoint_loader` makes mmengine's loader of
  local files (``load_checkpoint``, ``load_from``, ``--resume``) use
  :func:`read_checkpoint`.
- :func:`check_torch_load_environment` refuses to run with
  ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` set (``import epsam`` calls it).
"""
import os
import os.path as osp
import pickle
from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional

import torch
from torch import nn

from epsam.utils.errors import UserError

__all__ = [
    'CheckpointError', 'UnsafeEnvironmentError', 'UNSAFE_ENVIRONMENT_VARIABLE',
    'check_torch_load_environment', 'read_checkpoint', 'checkpoint_state_dict',
    'load_model_weights', 'install_weights_only_checkpoint_loader'
]

#: The variable that makes ``torch.load`` unpickle arbitrary objects by default.
UNSAFE_ENVIRONMENT_VARIABLE = 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'
_TRUE = ('1', 'y', 'yes', 'true')
_EXAMPLES = 3


class CheckpointError(UserError, RuntimeError):
    """A checkpoint is missing, unreadable, unsafe, or does not fit the model."""


class UnsafeEnvironmentError(UserError, RuntimeError):
    """The environment asks torch to run pickled code from checkpoints."""


def check_torch_load_environment() -> None:
    """Refuse ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``: with it, a checkpoint can run code.

    Raises:
        UnsafeEnvironmentError: The variable is set to a true value.
    """
    if os.environ.get(UNSAFE_ENVIRONMENT_VARIABLE, '0').strip().lower() in _TRUE:
        raise UnsafeEnvironmentError(
            f'{UNSAFE_ENVIRONMENT_VARIABLE} is set: it lets torch.load run code pickled '
            'in a checkpoint, so epsam refuses to start; unset it (every checkpoint epsam '
            'writes loads with weights_only=True, --resume included)')


def read_checkpoint(path: str, map_location: Any = 'cpu') -> Any:
    """Read a checkpoint file with ``torch.load(weights_only=True)``.

    Args:
        path: The file.
        map_location: As :func:`torch.load`.

    Raises:
        CheckpointError: Missing file, a folder, a corrupt or truncated file,
            or pickled code and objects (refused); the message names the file.
    """
    path = osp.expanduser(str(path))
    if not osp.isfile(path):
        what = 'is a directory, not a file' if osp.isdir(path) else 'does not exist'
        raise CheckpointError(f'{path}: checkpoint {what}')
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        if 'unsupported global' in str(error).lower():  # an object or callable, refused
            raise CheckpointError(
                f'{path}: the checkpoint holds pickled code or Python objects, which epsam '
                'refuses (it loads with weights_only=True); re-save it as a state dict of '
                'tensors') from None
        raise CheckpointError(f'{path}: checkpoint is corrupt or truncated, or not a torch '
                              f'file ({_reason(error)})') from None
    except Exception as error:  # torch raises many types for damaged files
        raise CheckpointError(f'{path}: checkpoint is corrupt or truncated '
                              f'({type(error).__name__}: {_reason(error)})') from None


def _reason(error: Exception) -> str:
    """The informative line of torch's (often many-line) loading error."""
    text = str(error)
    if 'WeightsUnpickler error:' in text:
        text = text.split('WeightsUnpickler error:', 1)[1]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def checkpoint_state_dict(checkpoint: Any, path: str = 'checkpoint') -> Dict[str, torch.Tensor]:
    """The state dict inside an mmengine checkpoint (``state_dict``) or a bare state dict.

    A ``module.`` prefix left by distributed training is removed.

    Raises:
        CheckpointError: No mapping of tensors is found.
    """
    state = checkpoint
    if isinstance(checkpoint, Mapping):
        for key in ('state_dict', 'model'):
            if isinstance(checkpoint.get(key), Mapping):
                state = checkpoint[key]
                break
    if not isinstance(state, Mapping) or not state:
        raise CheckpointError(f'{path}: holds no state dict (a mapping of tensors), got '
                              f'{type(state).__name__}')
    if all(key.startswith('module.') for key in state):
        state = OrderedDict((key[len('module.'):], value) for key, value in state.items())
    return dict(state)


def _examples(keys: List[str]) -> str:
    more = ', ...' if len(keys) > _EXAMPLES else ''
    return ', '.join(repr(k) for k in keys[:_EXAMPLES]) + more


def load_model_weights(model: nn.Module, path: str, map_location: Any = 'cpu',
                       what: Optional[str] = None) -> None:
    """Load a checkpoint into ``model``, refusing any key or shape that does not fit.

    Call ``model.eval()`` (or ``train()``) afterwards: layers that cache
    values derived from their weights in eval mode (TinyViT's attention
    biases) refresh them there.

    Args:
        model: The model (unwrapped from DDP by the caller).
        path: The checkpoint file (mmengine's, or a bare state dict).
        map_location: As :func:`torch.load`.
        what: How the message names the model (default: its class name).

    Raises:
        CheckpointError: The file cannot be read (see :func:`read_checkpoint`),
            or its keys or shapes do not fit the model: the counts of missing,
            unexpected and mismatched keys and a few examples of each.
    """
    state = checkpoint_state_dict(read_checkpoint(path, map_location), path)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [f'{k} {tuple(state[k].shape)} vs {tuple(expected[k].shape)}'
                  for k in expected if k in state and hasattr(state[k], 'shape')
                  and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or mismatched:
        parts = [f'{len(items)} {label} ({_examples(items)})' for label, items in (
            ('keys of the model missing from the checkpoint', missing),
            ('checkpoint keys the model does not have', unexpected),
            ('shapes that differ', mismatched)) if items]
        name = what or type(model).__name__
        raise CheckpointError(f'{path}: does not fit the {name} built from the config: '
                              + '; '.join(parts) + '. Is it the checkpoint of another config?')
    model.load_state_dict(state, strict=True)


def _mmengine_local_loader(filename: str, map_location: Any = None) -> Any:
    """mmengine's scheme for local files, with ``weights_only=True`` passed explicitly."""
    return read_checkpoint(filename, map_location)


def install_weights_only_checkpoint_loader() -> None:
    """Make mmengine read local checkpoints with :func:`read_checkpoint` (idempotent)."""
    from mmengine.runner.checkpoint import CheckpointLoader
    CheckpointLoader.register_scheme(prefixes='', loader=_mmengine_local_loader, force=True)

"""Make mmengine checkpoints loadable with ``torch.load(weights_only=True)``.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True``. mmengine
0.10.7 pickles its ``MessageHub`` state into every checkpoint: ``HistoryBuffer``
objects (with their bound statistics methods, reached through
``builtins.getattr``), NumPy arrays (through ``_codecs.encode``), NumPy scalars
and dtypes. ``--resume`` then fails with ``UnpicklingError``.

Rather than allow-listing those globals (``getattr`` would let a checkpoint
call arbitrary code), this hook rewrites the message-hub state into plain
Python types before the checkpoint is written, and rebuilds the
``HistoryBuffer`` objects after it is read. Checkpoints written without the
hook are refused by ``weights_only`` loading with torch's own error.
"""
import logging
from collections import OrderedDict
from typing import Any, Dict, Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer, print_log

from epsam.registry import HOOKS

PLAIN_FORMAT_KEY = '__epsam_plain_format__'
PLAIN_FORMAT_VERSION = 1


class NotPlainError(TypeError):
    """Raised when a value cannot be stored in a weights-only checkpoint."""


def to_plain(value: Any, where: str = 'value') -> Any:
    """Convert ``value`` into types that ``weights_only`` unpickling accepts.

    NumPy scalars become Python numbers, NumPy arrays become tensors, dtypes
    become their names, tuples stay tuples and mappings become dicts.

    Args:
        value: Any nested structure.
        where: Path of ``value``, used in error messages.

    Raises:
        NotPlainError: for objects of other types (named with their path).
    """
    # np.float64 subclasses float: convert NumPy scalars before the plain check.
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str, bytes, torch.Tensor)):
        return value
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, (np.dtype, torch.dtype)):
        return str(value)
    if isinstance(value, (list, tuple)):
        items = [to_plain(v, f'{where}[{i}]') for i, v in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        return {k: to_plain(v, f'{where}[{k!r}]') for k, v in value.items()}
    raise NotPlainError(f'{where} has type {type(value).__name__}, which cannot be stored '
                        'in a checkpoint that loads with weights_only=True')


def encode_message_hub(state: Dict[str, Any]) -> Dict[str, Any]:
    """Rewrite a ``MessageHub.state_dict()`` in plain types."""
    scalars = OrderedDict()
    for key, buffer in state['log_scalars'].items():
        log_history, count_history = buffer.data
        scalars[key] = dict(
            log_history=torch.from_numpy(np.asarray(log_history, dtype=np.float64)),
            count_history=torch.from_numpy(np.asarray(count_history, dtype=np.int64)),
            max_length=int(buffer.max_length))
    runtime_info = OrderedDict()
    for key, value in state['runtime_info'].items():
        try:
            runtime_info[key] = to_plain(value, f'message_hub.runtime_info[{key!r}]')
        except NotPlainError as err:
            print_log(f'{err}; it is left out of the checkpoint', logger='current',
                      level=logging.WARNING)
    return {
        PLAIN_FORMAT_KEY: PLAIN_FORMAT_VERSION,
        'log_scalars': scalars,
        'runtime_info': runtime_info,
        'resumed_keys': dict(state['resumed_keys']),
    }


def decode_message_hub(state: Dict[str, Any]) -> Dict[str, Any]:
    """Rebuild the ``HistoryBuffer`` objects of an :func:`encode_message_hub` state."""
    if state.get(PLAIN_FORMAT_KEY) != PLAIN_FORMAT_VERSION:
        return state
    scalars = OrderedDict()
    for key, item in state['log_scalars'].items():
        scalars[key] = HistoryBuffer(
            item['log_history'].tolist(), item['count_history'].tolist(),
            max_length=item['max_length'])
    return dict(
        log_scalars=scalars,
        runtime_info=OrderedDict(state['runtime_info']),
        resumed_keys=dict(state['resumed_keys']))


@HOOKS.register_module()
class WeightsOnlyCheckpointHook(Hook):
    """Store checkpoint state in plain types so it loads with ``weights_only=True``.

    Add it to ``custom_hooks`` (epsam's ``default_runtime.py`` and
    ``tools/train.py`` do). It runs on every checkpoint save and load.

    Args:
        strict: Raise when ``meta``, the optimizer or scheduler state hold a
            value that is not plain; when False, such top-level entries are
            dropped with a warning. Defaults to True.
    """

    priority = 'VERY_LOW'

    def __init__(self, strict: bool = True) -> None:
        self.strict = strict

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['message_hub'] = encode_message_hub(checkpoint['message_hub'])
        for section in ('meta', 'optimizer', 'param_schedulers'):
            if section in checkpoint:
                checkpoint[section] = self._plain_section(runner, checkpoint[section], section)

    def _plain_section(self, runner, value: Any, section: str) -> Any:
        """Convert one checkpoint section; drop non-plain ``meta`` entries when lax."""
        if self.strict or not isinstance(value, dict):
            return to_plain(value, section)
        plain = {}
        for key, item in value.items():
            try:
                plain[key] = to_plain(item, f'{section}[{key!r}]')
            except NotPlainError as err:
                runner.logger.warning(f'{err}; it is left out of the checkpoint')
        return plain

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        hub_state: Optional[dict] = checkpoint.get('message_hub')
        if hub_state is not None:
            checkpoint['message_hub'] = decode_message_hub(hub_state)

"""Memory probes for benchmarks: bytes autograd saves, resident memory, machine.

- :class:`SavedTensorCounter` counts the bytes autograd keeps for backward
  while a forward runs (``torch.autograd.graph.saved_tensors_hooks``), each
  storage once (keyed by device and data pointer), with the storages of
  given tensors (the model's own parameters and buffers) counted apart:
  they are resident whether or not autograd keeps a reference.
- :func:`current_rss_bytes`, :func:`peak_rss_bytes` and
  :func:`reset_peak_rss` read and reset the resident set size of this process
  (Linux ``/proc`` and ``getrusage``).
- :func:`machine_info` says what a number was measured on.
"""
import os
import platform
import resource
import sys
from typing import Dict, Iterable, Optional, Tuple

import torch
from torch.autograd.graph import saved_tensors_hooks

__all__ = ['SavedTensorCounter', 'current_rss_bytes', 'peak_rss_bytes', 'reset_peak_rss',
           'machine_info']

StorageKey = Tuple[str, int]


def _storage_of(tensor: torch.Tensor) -> Optional[Tuple[StorageKey, int]]:
    """(key, bytes) of the storage behind ``tensor``; None when it has none."""
    try:
        storage = tensor.untyped_storage()
    except (RuntimeError, NotImplementedError):  # sparse, nested, meta-like wrappers
        return None
    return (str(tensor.device), storage.data_ptr()), storage.nbytes()


class SavedTensorCounter:
    """Count the bytes autograd saves for backward inside a ``with`` block.

    A storage saved several times (an input used by two ops, a view of
    another saved tensor) counts once, with its full size: autograd keeps
    the whole storage alive. Saved tensors are returned unchanged, so the
    counted forward behaves exactly like an uncounted one.

    Args:
        exclude: Tensors whose storages are counted apart, in
            :attr:`excluded_bytes` (typically ``model.parameters()`` and
            ``model.buffers()``: frozen weights saved by an op are not extra
            memory).

    Example:
        >>> with SavedTensorCounter(exclude=model.parameters()) as counter:
        ...     loss = model(x).sum()
        >>> counter.saved_bytes
    """

    def __init__(self, exclude: Iterable[torch.Tensor] = ()) -> None:
        self._excluded_keys = set()
        for tensor in exclude:
            found = _storage_of(tensor)
            if found is not None:
                self._excluded_keys.add(found[0])
        self._saved: Dict[StorageKey, int] = {}
        self._excluded: Dict[StorageKey, int] = {}
        self.num_packed = 0
        self._hooks: Optional[saved_tensors_hooks] = None

    def _pack(self, tensor: torch.Tensor) -> torch.Tensor:
        self.num_packed += 1
        found = _storage_of(tensor)
        if found is not None:
            key, nbytes = found
            target = self._excluded if key in self._excluded_keys else self._saved
            target[key] = max(nbytes, target.get(key, 0))
        return tensor

    @staticmethod
    def _unpack(tensor: torch.Tensor) -> torch.Tensor:
        return tensor

    def __enter__(self) -> 'SavedTensorCounter':
        if self._hooks is not None:
            raise RuntimeError('SavedTensorCounter is already active (not re-entrant)')
        self._hooks = saved_tensors_hooks(self._pack, self._unpack)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc_info) -> None:
        hooks, self._hooks = self._hooks, None
        hooks.__exit__(*exc_info)

    @property
    def saved_bytes(self) -> int:
        """Bytes of the distinct saved storages, excluded ones left out."""
        return sum(self._saved.values())

    @property
    def excluded_bytes(self) -> int:
        """Bytes of the distinct saved storages that belong to ``exclude``."""
        return sum(self._excluded.values())

    @property
    def num_storages(self) -> int:
        """Distinct saved storages counted in :attr:`saved_bytes`."""
        return len(self._saved)


def current_rss_bytes() -> int:
    """Resident set size of this process now, in bytes (Linux ``/proc/self/statm``).

    Raises:
        OSError: Not on Linux (no ``/proc/self/statm``).
    """
    with open('/proc/self/statm') as handle:
        resident_pages = int(handle.read().split()[1])
    return resident_pages * os.sysconf('SC_PAGE_SIZE')


def peak_rss_bytes() -> int:
    """Peak resident set size of this process, in bytes (``getrusage`` ``ru_maxrss``).

    Since the last successful :func:`reset_peak_rss`, or since the start.
    """
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == 'darwin' else int(peak) * 1024  # macOS: bytes


def reset_peak_rss() -> bool:
    """Reset the peak RSS to the current RSS (Linux: ``/proc/self/clear_refs``, "5").

    Returns:
        True when the reset took effect; False where the kernel or the
        platform does not allow it (the peak then still covers everything
        since the start of the process).
    """
    try:
        with open('/proc/self/clear_refs', 'w') as handle:
            handle.write('5')
    except OSError:
        return False
    return peak_rss_bytes() <= current_rss_bytes() + (1 << 20)


def _total_memory_bytes() -> Optional[int]:
    try:
        with open('/proc/meminfo') as handle:
            for line in handle:
                if line.startswith('MemTotal:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def machine_info(device: str = 'cpu') -> Dict[str, object]:
    """What a measurement ran on: CPUs, memory, versions and the device.

    Args:
        device: The torch device the measurement used (``'cpu'``, ``'cuda'``,
            ``'cuda:1'``).
    """
    info: Dict[str, object] = dict(
        cpu_count=os.cpu_count(),
        cpu_affinity=len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else None,
        torch_threads=torch.get_num_threads(),
        total_memory_bytes=_total_memory_bytes(),
        processor=platform.processor() or platform.machine(),
        platform=platform.platform(),
        python=platform.python_version(),
        torch=torch.__version__,
        device=str(device),
        device_name='CPU')
    if str(device).startswith('cuda') and torch.cuda.is_available():
        info['device_name'] = torch.cuda.get_device_name(torch.device(device))
    return info

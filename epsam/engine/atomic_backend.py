"""A local file backend whose writes are atomic, for mmengine's checkpoints.

mmengine writes ``*.pth`` with a plain ``open('wb')``: a kill or a full disk
during the write leaves a truncated checkpoint under its final name. With
``backend_args=dict(backend='epsam_atomic_local')`` on ``CheckpointHook``
(``tools/train.py`` and the pipeline set it), every checkpoint is written to a
temporary file in the same folder and renamed into place.
"""
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend, register_backend

from epsam.fileio.atomic_io import atomic_write_bytes, atomic_write_text

ATOMIC_BACKEND = 'epsam_atomic_local'


class AtomicLocalBackend(LocalBackend):
    """mmengine's ``LocalBackend`` with atomic ``put`` and ``put_text``."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        atomic_write_bytes(str(filepath), obj)

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        atomic_write_text(str(filepath), obj)


register_backend(ATOMIC_BACKEND, AtomicLocalBackend, force=True)

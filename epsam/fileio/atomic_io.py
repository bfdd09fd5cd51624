"""Atomic file writes: a reader sees either no file or a complete one.

Every stage output of epsam (CAMs, masks, pseudo-labels, records, summaries)
goes through :func:`atomic_write_bytes`, so an interrupted run never leaves a
truncated file that a rerun would mistake for a finished one.
"""
import contextlib
import json
import os
import tempfile
from typing import Any, Iterator, Tuple

__all__ = ['atomic_output', 'atomic_write_bytes', 'atomic_write_text', 'atomic_write_json',
           'TEMP_SUFFIX']

#: Suffix of the temporary files (hidden, in the target's folder) before the rename.
TEMP_SUFFIX = '.tmp'


@contextlib.contextmanager
def _temporary_sibling(path: str, make_dirs: bool) -> Iterator[Tuple[int, str]]:
    """Yield ``(fd, temporary path)`` beside ``path``; rename it to ``path`` on success.

    On any failure the temporary file is removed and ``path`` is left as it
    was; an ``OSError`` without a file name (a full disk) is re-raised naming
    ``path``.
    """
    folder, name = os.path.split(os.path.abspath(os.fspath(path)))
    if make_dirs:
        os.makedirs(folder, exist_ok=True)
    handle, tmp_path = tempfile.mkstemp(prefix=f'.{name}.', suffix=TEMP_SUFFIX, dir=folder)
    try:
        yield handle, tmp_path
        os.replace(tmp_path, path)
    except OSError as err:
        if err.filename is None:
            # e.g. ENOSPC from write(): say which output could not be written.
            raise OSError(err.errno, err.strerror or str(err), os.fspath(path)) from err
        raise
    finally:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)


@contextlib.contextmanager
def atomic_output(path: str, make_dirs: bool = True) -> Iterator[str]:
    """Yield a hidden temporary path in ``path``'s folder; rename it to ``path`` on success.

    For writers that need a path of their own (e.g. a TIFF library). The
    temporary file is renamed over ``path`` with ``os.replace`` (atomic on
    POSIX and Windows) when the block ends without an error; on any failure
    it is removed and ``path`` is left as it was; an ``OSError`` without a
    file name (a full disk) is re-raised naming ``path``.

    Args:
        path: Final file path.
        make_dirs: Create the parent folder when it does not exist.
    """
    with _temporary_sibling(path, make_dirs) as (handle, tmp_path):
        os.close(handle)
        yield tmp_path


def atomic_write_bytes(path: str, data: bytes, make_dirs: bool = True) -> None:
    """Write ``data`` to ``path`` so that ``path`` is either absent or complete.

    The bytes go to a hidden temporary file in the same folder (same file
    system), which is flushed, synced and renamed over ``path`` (as
    :func:`atomic_output` does).

    Args:
        path: Final file path.
        data: File content.
        make_dirs: Create the parent folder when it does not exist.
    """
    with _temporary_sibling(path, make_dirs) as (handle, _):
        with os.fdopen(handle, 'wb') as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())


def atomic_write_text(path: str, text: str, make_dirs: bool = True) -> None:
    """Write UTF-8 ``text`` atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode('utf-8'), make_dirs=make_dirs)


def atomic_write_json(path: str, obj: Any, make_dirs: bool = True) -> None:
    """Write ``obj`` as JSON atomically, with sorted keys so equal objects give equal bytes.

    Args:
        path: Final file path.
        obj: JSON-serialisable object.
        make_dirs: Create the parent folder when it does not exist.
    """
    text = json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + '\n'
    atomic_write_text(path, text, make_dirs=make_dirs)

"""One on-disk SAM embedding-cache entry: format, atomic write, checked read.

Layout of an entry file::

    b'EPSAMEMB'  | uint32 LE header length | JSON header | raw tensor bytes

The JSON header holds the key, the encoder fingerprint, dtype, shape, byte
count and a BLAKE2b checksum of the payload. Files are written to a temporary
name in the same folder and moved into place with ``os.replace``.
"""
import hashlib
import json
import os
import struct
import sys
import tempfile
from pathlib import Path
from typing import Dict, Tuple, Union

import torch

__all__ = ['CorruptCacheEntry', 'read_cache_entry', 'write_cache_entry', 'ENTRY_SUFFIX',
           'TEMP_PREFIX', 'STORAGE_DTYPES']

MAGIC = b'EPSAMEMB'
ENTRY_FORMAT_VERSION = 1
ENTRY_SUFFIX = '.emb'
TEMP_PREFIX = '.tmp-'
_PREFIX = struct.Struct('<8sI')
_MAX_HEADER_BYTES = 1 << 16
STORAGE_DTYPES = {'float16': torch.float16, 'bfloat16': torch.bfloat16,
                  'float32': torch.float32}


class CorruptCacheEntry(ValueError):
    """A cache file exists but cannot be trusted (truncated, garbage, wrong header)."""


def _checksum(payload) -> str:
    return hashlib.blake2b(payload, digest_size=16).hexdigest()


def write_cache_entry(path: Union[str, Path], embedding: torch.Tensor, header: dict,
                      fsync: bool = False) -> int:
    """Write one entry atomically (temporary file in the same folder + ``os.replace``).

    Args:
        path: Final file name.
        embedding: Tensor to store, already in the storage dtype (any device).
        header: Extra header fields (key, encoder fingerprint, ...).
        fsync: Flush the file to the disk before renaming (survives power loss).

    Returns:
        Bytes written.
    """
    path = Path(path)
    flat = embedding.detach().reshape(-1).cpu().contiguous()
    payload = flat.view(torch.uint8).numpy()
    full_header = dict(header, format=ENTRY_FORMAT_VERSION, dtype=str(flat.dtype).split('.')[-1],
                       shape=list(embedding.shape), nbytes=int(payload.nbytes),
                       byteorder=sys.byteorder, checksum=_checksum(payload))
    raw_header = json.dumps(full_header, sort_keys=True).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX, suffix='.part')
    try:
        with os.fdopen(fd, 'wb') as stream:
            stream.write(_PREFIX.pack(MAGIC, len(raw_header)))
            stream.write(raw_header)
            stream.write(payload)
            if fsync:
                stream.flush()
                os.fsync(stream.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    return _PREFIX.size + len(raw_header) + int(payload.nbytes)


def read_cache_entry(path: Union[str, Path], expected: Dict[str, object],
                     verify_checksum: bool = True) -> Tuple[torch.Tensor, int]:
    """Read and check one entry.

    Args:
        path: Entry file.
        expected: Header fields that must match exactly (e.g. ``key``,
            ``encoder``, ``dtype``, and ``shape`` as a list when known).
        verify_checksum: Hash the payload and compare with the header.

    Returns:
        The CPU tensor in its stored dtype and the bytes read.

    Raises:
        FileNotFoundError: No entry.
        CorruptCacheEntry: Any check failed; the message says which.
    """
    with open(path, 'rb') as stream:
        prefix = stream.read(_PREFIX.size)
        if len(prefix) < _PREFIX.size:
            raise CorruptCacheEntry('file shorter than the fixed prefix')
        magic, header_len = _PREFIX.unpack(prefix)
        if magic != MAGIC or header_len > _MAX_HEADER_BYTES:
            raise CorruptCacheEntry('not an epsam embedding entry (bad magic or header size)')
        raw_header = stream.read(header_len)
        if len(raw_header) != header_len:
            raise CorruptCacheEntry('header cut short')
        try:
            header = json.loads(raw_header)
            dtype = STORAGE_DTYPES[header['dtype']]
            shape = [int(s) for s in header['shape']]
            nbytes = int(header['nbytes'])
        except (ValueError, KeyError, TypeError) as err:
            raise CorruptCacheEntry(f'unreadable header ({err!r})') from None
        if header.get('format') != ENTRY_FORMAT_VERSION or header.get('byteorder') != sys.byteorder:
            raise CorruptCacheEntry(f"format {header.get('format')} / byte order "
                                    f"{header.get('byteorder')} is not this version's")
        for field, value in expected.items():
            if header.get(field) != value:
                raise CorruptCacheEntry(f'header field {field!r} is {header.get(field)!r}, '
                                        f'expected {value!r}')
        tensor = torch.empty(shape, dtype=dtype)
        if tensor.numel() * tensor.element_size() != nbytes:
            raise CorruptCacheEntry(f'shape {shape} x {header["dtype"]} does not make {nbytes} '
                                    'bytes')
        buffer = tensor.reshape(-1).view(torch.uint8).numpy()
        got = stream.readinto(buffer) if nbytes else 0
        if got != nbytes:
            raise CorruptCacheEntry(f'payload cut short ({got} of {nbytes} bytes)')
        if stream.read(1):
            raise CorruptCacheEntry('trailing bytes after the payload')
    if verify_checksum and _checksum(buffer) != header.get('checksum'):
        raise CorruptCacheEntry('payload checksum mismatch')
    return tensor, _PREFIX.size + header_len + nbytes

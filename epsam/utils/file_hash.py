"""SHA-256 of a file's content, read in blocks (verifying shipped or cached files)."""
import hashlib

__all__ = ['file_sha256']


def file_sha256(path: str) -> str:
    """SHA-256 (hex) of the content of ``path``, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as file:
        for block in iter(lambda: file.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()

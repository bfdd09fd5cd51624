"""Content fingerprints: the SHA-256 of a file and the digest of a model's weights."""
import hashlib

import torch
from torch import nn

__all__ = ['file_sha256', 'weights_fingerprint']


def file_sha256(path: str) -> str:
    """SHA-256 (hex) of the content of ``path``, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as file:
        for block in iter(lambda: file.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def weights_fingerprint(model: nn.Module) -> str:
    """BLAKE2b digest of every state-dict tensor (name, dtype, shape, bytes).

    Args:
        model: The module whose ``state_dict()`` is hashed.
    """
    hasher = hashlib.blake2b(digest_size=16)
    for name, tensor in model.state_dict().items():
        flat = tensor.detach().reshape(-1).cpu().contiguous()
        hasher.update(f'{name}|{flat.dtype}|{tuple(tensor.shape)}|'.encode())
        hasher.update(flat.view(torch.uint8).numpy().tobytes())
    return hasher.hexdigest()

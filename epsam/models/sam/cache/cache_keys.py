"""Content and weight fingerprints that key SAM's image-embedding cache.

An embedding depends on three things, and a cache entry's key hashes all of
them:

- the image content: the exact RGB pixels handed to the encoder's input
  transform (or, for callers that key by file, the file bytes plus an
  augmentation variant id), see :func:`image_content_key` and
  :func:`file_content_key`;
- the preprocessing: SAM's input size, mean and std, see
  :func:`preprocess_signature`;
- the encoder weights: a hash of every state-dict tensor's bytes, see
  :class:`EncoderFingerprint`.

All digests are BLAKE2b hex strings; a change of any input gives a new key,
so stale entries are never returned (they stay on disk until removed).
"""
import hashlib
import json
from pathlib import Path
from typing import Any, Mapping, Optional, Tuple, Union

import torch

__all__ = [
    'KEY_FORMAT_VERSION', 'tensor_digest', 'canonical_pixels', 'preprocess_signature',
    'image_content_key', 'file_content_key', 'entry_key', 'EncoderFingerprint'
]

#: Bumped whenever the way keys are derived changes, so old entries stop matching.
KEY_FORMAT_VERSION = 1
_DIGEST_BYTES = 20  # 160-bit keys: 40 hex characters


def _new_hasher(purpose: str) -> 'hashlib.blake2b':
    return hashlib.blake2b(f'epsam-sam-cache/v{KEY_FORMAT_VERSION}/{purpose}'.encode(),
                           digest_size=_DIGEST_BYTES)


def _update_with_tensor(hasher: 'hashlib.blake2b', tensor: torch.Tensor) -> None:
    """Feed a tensor's dtype, shape and raw bytes (on the CPU) to ``hasher``."""
    if tensor.is_meta:
        raise ValueError('cannot fingerprint a tensor on the meta device (it holds no values)')
    flat = tensor.detach().reshape(-1).cpu().contiguous()
    hasher.update(f'{flat.dtype}|{tuple(tensor.shape)}|'.encode())
    if flat.numel():
        hasher.update(flat.view(torch.uint8).numpy())


def tensor_digest(tensor: torch.Tensor) -> str:
    """Hex digest of a tensor's dtype, shape and exact values."""
    hasher = _new_hasher('tensor')
    _update_with_tensor(hasher, tensor)
    return hasher.hexdigest()


def canonical_pixels(image: torch.Tensor) -> torch.Tensor:
    """The form of an image whose bytes are hashed.

    A float image holding only integers in 0-255 (what mmseg's data
    preprocessor makes of uint8 input) becomes uint8, so the key of an image
    does not depend on whether it was hashed before or after that cast. Any
    other image is hashed as float32.

    Args:
        image: RGB image (3, H, W) on the 0-255 scale, any dtype and device.

    Returns:
        uint8 or float32 tensor (3, H, W) on the image's device.
    """
    if image.dtype == torch.uint8:
        return image
    as_float = image.detach().float()
    rounded = as_float.round()
    if bool(((rounded == as_float) & (as_float >= 0) & (as_float <= 255)).all()):
        return rounded.to(torch.uint8)
    return as_float


def preprocess_signature(img_size: int, pixel_mean, pixel_std,
                         normalization: str = 'mean_std') -> str:
    """A stable string naming SAM's preprocessing (resize longest side, normalise, pad).

    Args:
        img_size: Side of SAM's square input frame, in pixels.
        pixel_mean: RGB mean on the 0-255 scale (3 numbers).
        pixel_std: RGB standard deviation on the 0-255 scale (3 numbers).
        normalization: ``'mean_std'`` or ``'min_max'`` (then mean and std
            are unused and left out).
    """
    content = dict(resize='longest_side_bilinear_antialias', pad='bottom_right',
                   img_size=int(img_size))
    if normalization == 'mean_std':
        content['mean'] = [round(float(v), 6)
                           for v in torch.as_tensor(pixel_mean).flatten().tolist()]
        content['std'] = [round(float(v), 6)
                          for v in torch.as_tensor(pixel_std).flatten().tolist()]
    else:
        content['normalization'] = normalization
    return json.dumps(content, sort_keys=True)


def image_content_key(image: torch.Tensor, preprocess: str, variant_id: str = '') -> str:
    """Key of an image by its exact pixels.

    Args:
        image: RGB image (3, H, W) on the 0-255 scale, as given to SAM's input
            transform (after any augmentation).
        preprocess: :func:`preprocess_signature` of the transform used.
        variant_id: Optional extra tag (the pixels already tell augmentation
            variants apart, so this is usually empty).

    Returns:
        40-character hex digest.
    """
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f'expected an RGB image of shape (3, H, W), got {tuple(image.shape)}')
    hasher = _new_hasher('image')
    hasher.update(f'{preprocess}|{variant_id}|'.encode())
    _update_with_tensor(hasher, canonical_pixels(image))
    return hasher.hexdigest()


def file_content_key(path: Union[str, Path], preprocess: str, variant_id: str) -> str:
    """Key of an image by its file bytes, preprocessing and augmentation variant.

    Cheaper than hashing pixels when images are read from disk; the caller
    must name every pixel-changing step in ``variant_id`` (e.g. ``'rot90_k1'``,
    ``'hflip'``, or ``'none'``) because the file bytes cannot see them.

    Args:
        path: Image file.
        preprocess: :func:`preprocess_signature` of the transform used.
        variant_id: Identifier of the augmentation applied after loading.

    Returns:
        40-character hex digest.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'cannot key image {path}: no such file')
    hasher = _new_hasher('file')
    hasher.update(f'{preprocess}|{variant_id}|'.encode())
    with open(path, 'rb') as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b''):
            hasher.update(chunk)
    return hasher.hexdigest()


def entry_key(content_key: str, encoder_fingerprint: str, storage_dtype: torch.dtype) -> str:
    """Name of a cache entry: image content x encoder weights x storage dtype."""
    hasher = _new_hasher('entry')
    hasher.update(f'{content_key}|{encoder_fingerprint}|{storage_dtype}'.encode())
    return hasher.hexdigest()


class EncoderFingerprint:
    """Hash of an encoder's weights, computed once and recomputed only when they change.

    The digest covers the module's class name, ``img_size`` (when it has one),
    an optional tag (e.g. the SAM variant name) and every state-dict tensor
    (name, dtype, shape, bytes). Hashing vit_b's 90M parameters takes about a
    second, so the result is cached; each call checks every tensor's identity,
    storage address and autograd version counter, which change on
    ``load_state_dict``, optimizer steps, in-place edits under ``no_grad`` and
    ``.to(device)``. Edits through ``param.data`` bypass the version counter:
    call :meth:`refresh` after those.

    Args:
        encoder: The (frozen) image encoder.
        tag: Extra text mixed into the digest, e.g. ``'vit_b'``.
    """

    def __init__(self, encoder: torch.nn.Module, tag: Optional[str] = None) -> None:
        self.encoder = encoder
        self.tag = tag
        self._state: Optional[Tuple] = None
        self._digest: Optional[str] = None
        self.computations = 0

    def _current_state(self) -> Tuple:
        return tuple((name, id(t), t.data_ptr() if not t.is_meta else 0, t._version)
                     for name, t in self.encoder.state_dict(keep_vars=True).items())

    def describe(self) -> Mapping[str, Any]:
        """What, besides the tensors, goes into the digest."""
        return dict(module=type(self.encoder).__qualname__,
                    img_size=getattr(self.encoder, 'img_size', None), tag=self.tag)

    def refresh(self) -> str:
        """Hash the weights now, whatever the cached state says."""
        state = self._current_state()
        hasher = _new_hasher('encoder')
        hasher.update(json.dumps(self.describe(), sort_keys=True).encode())
        for name, tensor in self.encoder.state_dict(keep_vars=True).items():
            hasher.update(f'|{name}|'.encode())
            _update_with_tensor(hasher, tensor)
        self._state, self._digest = state, hasher.hexdigest()
        self.computations += 1
        return self._digest

    @property
    def digest(self) -> str:
        """The current fingerprint (recomputed if a weight tensor changed)."""
        if self._digest is None or self._current_state() != self._state:
            return self.refresh()
        return self._digest

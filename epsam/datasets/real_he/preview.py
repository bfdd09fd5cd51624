"""A picture of a generated dataset: patches next to their masks drawn over them."""
import io
import os
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image

from ..synthetic.layouts import BCSS_PALETTE
from ..synthetic.writers import atomic_write_bytes

__all__ = ['render_preview', 'render_overview', 'save_preview']

_GAP = 4
_TITLE_HEIGHT = 22


def _read_rgb(path: str) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert('RGB'))


def _read_index(path: str) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


def _evenly(items: Sequence[str], count: int) -> List[str]:
    if count <= 0 or not items:
        return []
    if len(items) <= count:
        return list(items)
    return [items[int(i)] for i in np.linspace(0, len(items) - 1, count).round()]


def _overlay(image: np.ndarray, class_map: np.ndarray,
             colours: Sequence[Tuple[int, Tuple[int, int, int]]]) -> np.ndarray:
    """``image`` tinted 35 % with each class's colour, class outlines drawn 1 px wide."""
    out = image.astype(np.float32)
    for index, colour in colours:
        region = class_map == index
        out[region] = 0.65 * out[region] + 0.35 * np.array(colour, np.float32)
    out = out.astype(np.uint8)
    for index, colour in colours:
        contours, _ = cv2.findContours((class_map == index).astype(np.uint8), cv2.RETR_LIST,
                                       cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, tuple(int(c) for c in colour), 1)
    return out


def _pairs(root: str, layout: str, split: str, num: int) -> List[Tuple[np.ndarray, np.ndarray]]:
    if layout == 'camelyon':
        image_dir, mask_dir = (os.path.join(root, split, part) for part in ('image', 'mask'))
        names = sorted(name for name in os.listdir(image_dir) if name.endswith('.png'))
        positives = [name for name in names if name.endswith('_1.png')]
        negatives = [name for name in names if name.endswith('_0.png')]
        picked = _evenly(positives, num - min(len(negatives), max(1, num // 4))) + \
            _evenly(negatives, max(1, num // 4))
        pairs = []
        for name in picked[:num]:
            image = _read_rgb(os.path.join(image_dir, name))
            mask_path = os.path.join(mask_dir, name)
            mask = _read_index(mask_path) if os.path.exists(mask_path) else np.zeros(
                image.shape[:2], np.uint8)
            pairs.append((image, _overlay(image, (mask > 0).astype(np.uint8),
                                          [(1, (255, 230, 0))])))
        return pairs
    if layout == 'bcss':
        image_dir, mask_dir = (os.path.join(root, split, part) for part in ('img', 'mask'))
        names = sorted(name for name in os.listdir(image_dir) if name.endswith('.png'))
        colours = [(0, BCSS_PALETTE[0]), (1, BCSS_PALETTE[1])]
        pairs = []
        for name in _evenly(names, num):
            image = _read_rgb(os.path.join(image_dir, name))
            pairs.append((image, _overlay(image, _read_index(os.path.join(mask_dir, name)),
                                          colours)))
        return pairs
    raise ValueError(f"layout must be 'camelyon' or 'bcss', got {layout!r}")


def render_preview(root: str, layout: str, *, split: str = 'test', num: int = 8, per_row: int = 4,
                   title: Optional[str] = None) -> np.ndarray:
    """Grid of patches of one split, each followed by its mask drawn over it.

    Camelyon: three quarters positives (epithelium tinted yellow), the rest
    negatives. BCSS: TUM tinted red, STR green, glass untinted.

    Args:
        root: Dataset root.
        layout: ``'camelyon'`` or ``'bcss'``.
        split: Split to show (``'test'`` or ``'val'``; they have masks).
        num: Number of patches.
        per_row: Patches (image + overlay pairs) per row.
        title: Text written above the grid.

    Returns:
        np.ndarray: RGB uint8 picture.
    """
    pairs = _pairs(root, layout, split, num)
    if not pairs:
        raise ValueError(f'no patches found in {os.path.join(root, split)}')
    size = pairs[0][0].shape[0]
    rows = (len(pairs) + per_row - 1) // per_row
    cell = 2 * size + _GAP
    top = _TITLE_HEIGHT if title else 0
    canvas = np.full((top + rows * (size + _GAP), per_row * (cell + 2 * _GAP), 3), 255, np.uint8)
    for index, (image, overlay) in enumerate(pairs):
        r, c = divmod(index, per_row)
        y, x = top + r * (size + _GAP), c * (cell + 2 * _GAP)
        canvas[y:y + size, x:x + size] = image
        canvas[y:y + size, x + size + _GAP:x + cell] = overlay
    if title:
        cv2.putText(canvas, title, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return canvas


def render_overview(image: np.ndarray, class_map: np.ndarray, *, height: int = 480,
                    regions: Optional[dict] = None, title: Optional[str] = None,
                    crop: bool = True, with_image: bool = True) -> np.ndarray:
    """The whole source image next to its class map drawn over it (and the split bands).

    Epithelium is tinted yellow, glass blue, stroma left as is; with
    ``regions`` (from :func:`~.sampling.split_regions`, at the image's
    resolution) the val and test bands are marked by coloured bars at the
    left edge (val blue, test red; train unmarked).

    Args:
        image: RGB uint8 array (H, W, 3).
        class_map: Class map (H, W): 0 epithelium, 1 stroma, 4 glass.
        height: Height of the picture in pixels.
        regions: Split name -> list of (start, stop) pixel ranges along the
            longer side, or None.
        title: Text written above the picture.
        crop: Leave out the glass-only margins across the longer side.
        with_image: Show the plain image left of the overlay.

    Returns:
        np.ndarray: RGB uint8 picture.
    """
    overlay = _overlay(image, class_map, [(0, (255, 230, 0)), (4, (90, 90, 255))])
    portrait = image.shape[0] >= image.shape[1]
    if crop:  # keep the columns (rows) that hold tissue, and a margin
        across = 0 if portrait else 1  # axis reduced to find the tissue columns (rows)
        tissue = np.nonzero((class_map != 4).any(axis=across))[0]
        if len(tissue):
            size = image.shape[1 - across]
            margin = max(image.shape[:2]) // 50
            low, high = max(0, int(tissue[0]) - margin), min(size, int(tissue[-1]) + margin + 1)
            if portrait:
                image, overlay = image[:, low:high], overlay[:, low:high]
            else:
                image, overlay = image[low:high], overlay[low:high]
    scale = height / image.shape[0]
    width = max(1, int(round(image.shape[1] * scale)))
    small = [cv2.resize(picture, (width, height), interpolation=cv2.INTER_AREA)
             for picture in (image, overlay)]
    if regions:
        for split, colour in (('val', (0, 0, 255)), ('test', (255, 0, 0))):
            for start, stop in regions.get(split, []):
                a, b = int(round(start * scale)), int(round(stop * scale))
                if portrait:
                    small[1][a:b, :8] = colour
                else:
                    small[1][:8, a:b] = colour
    top = _TITLE_HEIGHT if title else 0
    shown = small if with_image else small[1:]
    canvas = np.full((top + height, len(shown) * (width + _GAP) - _GAP, 3), 255, np.uint8)
    for index, picture in enumerate(shown):
        canvas[top:, index * (width + _GAP):index * (width + _GAP) + width] = picture
    if title:
        cv2.putText(canvas, title, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return canvas


def save_preview(path: str, panels: Sequence[np.ndarray], colours: int = 256,
                 beside: Optional[np.ndarray] = None) -> str:
    """Stack pictures vertically and write them as a palette PNG (small file).

    Args:
        path: Output PNG path.
        panels: RGB uint8 pictures (e.g. from :func:`render_preview`).
        colours: Palette size of the PNG (at most 256).
        beside: A picture put left of the stack (e.g. from :func:`render_overview`).

    Returns:
        str: ``path``.
    """
    width = max(panel.shape[1] for panel in panels)
    padded = [np.pad(panel, ((0, _GAP), (0, width - panel.shape[1]), (0, 0)),
                     constant_values=255) for panel in panels]
    stack = np.concatenate(padded, axis=0)
    if beside is not None:
        height = max(stack.shape[0], beside.shape[0])
        stack, beside = (np.pad(part, ((0, height - part.shape[0]), (0, 0), (0, 0)),
                                constant_values=255) for part in (stack, beside))
        stack = np.concatenate([beside, np.full((height, 3 * _GAP, 3), 255, np.uint8), stack],
                               axis=1)
    picture = Image.fromarray(stack)
    picture = picture.quantize(colors=colours, method=Image.Quantize.MEDIANCUT,
                               dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    picture.save(buffer, format='PNG', optimize=True)
    atomic_write_bytes(path, buffer.getvalue())
    return path

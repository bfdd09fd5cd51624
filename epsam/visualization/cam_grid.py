"""Picture grids of the CAM stage: image | CAM overlay(s) | initial mask | ground truth."""
import math
from typing import List, Optional, Sequence

import cv2
import numpy as np

from epsam.fileio.atomic_io import atomic_write_bytes

__all__ = ['cam_overlay', 'colorize_labels', 'make_cam_grid', 'save_picture']

#: Colour (RGB) of ignored (255) pixels.
IGNORE_COLOR = (128, 128, 128)
_TEXT_HEIGHT = 18


def cam_overlay(image_rgb: np.ndarray, cam: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """A JET heatmap of ``cam`` blended over the image.

    Args:
        image_rgb: (H, W, 3) uint8 RGB image.
        cam: (H, W) map in [0, 1].
        alpha: Weight of the heatmap, in [0, 1].

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB.
    """
    if cam.shape != image_rgb.shape[:2]:
        raise ValueError(f'cam_overlay: CAM {cam.shape} and image {image_rgb.shape[:2]} differ')
    heat = cv2.applyColorMap(np.round(np.clip(cam, 0, 1) * 255).astype(np.uint8),
                             cv2.COLORMAP_JET)[..., ::-1]
    blended = (1 - alpha) * image_rgb.astype(np.float32) + alpha * heat.astype(np.float32)
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)


def colorize_labels(labels: np.ndarray, palette: Optional[Sequence[Sequence[int]]] = None
                    ) -> np.ndarray:
    """Colour a (H, W) label map: class ``i`` gets ``palette[i]``, 255 grey, others white.

    Args:
        labels: (H, W) integer class map (binary masks: 0/1).
        palette: RGB colour per class index; None: black / red for 0 / 1.

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB.
    """
    palette = [[0, 0, 0], [255, 0, 0]] if palette is None else palette
    table = np.full((256, 3), 255, np.uint8)
    for index, color in enumerate(palette[:255]):
        table[index] = color
    table[255] = IGNORE_COLOR
    return table[np.asarray(labels, dtype=np.uint8)]


def _panel(picture: np.ndarray, caption: str, scale: int) -> np.ndarray:
    """Scale a (H, W, 3) picture up by ``scale`` and put a caption bar above it."""
    if scale > 1:
        picture = cv2.resize(picture, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    bar = np.full((_TEXT_HEIGHT, picture.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, caption, (3, _TEXT_HEIGHT - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.42,
                (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([bar, picture], axis=0)


def make_cam_grid(image_rgb: np.ndarray,
                  cams: np.ndarray,
                  mask: np.ndarray,
                  gt: Optional[np.ndarray] = None,
                  *,
                  class_names: Sequence[str] = (),
                  palette: Optional[Sequence[Sequence[int]]] = None,
                  scores: Optional[Sequence[float]] = None,
                  title: str = '',
                  min_panel_size: int = 160) -> np.ndarray:
    """One row of panels for one patch, with a title bar.

    Panels: the image, the CAM of each class blended over it (heatmap;
    caption: class name and score), the initial mask and, when given, the
    ground truth (both coloured with ``palette``, 255 grey).

    Args:
        image_rgb: (H, W, 3) uint8 RGB image.
        cams: (K, H, W) CAMs in [0, 1].
        mask: (H, W) initial mask (0/1 or class indices, 255 ignore).
        gt: (H, W) ground truth in the same index space, or None.
        class_names: K names for the CAM captions.
        palette: RGB per mask index (binary masks: index 0/1).
        scores: K class scores for the captions.
        title: Text of the title bar (e.g. the image stem).
        min_panel_size: Small images are scaled up (nearest) by an integer
            factor until their short side reaches this many pixels.

    Returns:
        np.ndarray: (H', W', 3) uint8 RGB grid.
    """
    image_rgb = np.asarray(image_rgb, dtype=np.uint8)
    cams = np.asarray(cams, dtype=np.float32)
    if cams.ndim == 2:
        cams = cams[None]
    size = image_rgb.shape[:2]
    for name, array in (('cams', cams[0]), ('mask', mask), ('gt', gt)):
        if array is not None and array.shape != size:
            raise ValueError(f'make_cam_grid: {name} has size {array.shape}, image {size}')
    scale = max(1, math.ceil(min_panel_size / min(size)))
    panels: List[np.ndarray] = [_panel(image_rgb, 'image', scale)]
    for index, cam in enumerate(cams):
        name = class_names[index] if index < len(class_names) else f'class {index}'
        caption = f'CAM {name}' + (f' p={scores[index]:.2f}' if scores is not None else '')
        panels.append(_panel(cam_overlay(image_rgb, cam), caption, scale))
    panels.append(_panel(colorize_labels(mask, palette), 'initial mask', scale))
    if gt is not None:
        panels.append(_panel(colorize_labels(gt, palette), 'ground truth', scale))
    gap = np.full((panels[0].shape[0], 4, 3), 255, np.uint8)
    row = np.concatenate([part for panel in panels for part in (panel, gap)][:-1], axis=1)
    header = _panel(np.zeros((0, row.shape[1], 3), np.uint8), title, 1)
    return np.concatenate([header, row], axis=0)


def save_picture(path: str, picture_rgb: np.ndarray) -> None:
    """Write an RGB uint8 picture as PNG, atomically (its folder is created)."""
    ok, buffer = cv2.imencode('.png', np.ascontiguousarray(picture_rgb[..., ::-1]))
    if not ok:
        raise RuntimeError(f'{path}: OpenCV could not encode a {picture_rgb.shape} picture')
    atomic_write_bytes(path, buffer.tobytes())

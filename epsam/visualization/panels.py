"""Picture grids of the pipeline: image / CAM / prompts / SAM mask / pseudo-label / truth."""
import textwrap
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

Panel = Tuple[str, Optional[np.ndarray]]
TITLE_HEIGHT = 18


def cam_heatmap(image_rgb: np.ndarray, cam: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """A JET heatmap of ``cam`` ([0, 1], (H, W)) blended over the RGB image."""
    heat = cv2.applyColorMap(np.uint8(np.clip(cam, 0, 1) * 255), cv2.COLORMAP_JET)
    heat = cv2.cvtColor(heat, cv2.COLOR_BGR2RGB)
    return np.uint8((1 - alpha) * image_rgb + alpha * heat)


def mask_overlay(image_rgb: np.ndarray, mask: Optional[np.ndarray],
                 colour: Tuple[int, int, int] = (0, 200, 0)) -> Optional[np.ndarray]:
    """Green fill and outline of a bool mask on the image (``None`` stays ``None``)."""
    if mask is None:
        return None
    out = image_rgb.copy()
    out[mask] = (0.5 * out[mask] + 0.5 * np.array(colour)).astype(np.uint8)
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, contours, -1, colour, 1)
    return out


def draw_prompts(image_rgb: np.ndarray, points: np.ndarray, labels: np.ndarray,
                 boxes: Optional[np.ndarray] = None) -> np.ndarray:
    """Boxes in orange, positive points in yellow, negative in cyan, at pixel-index (x, y).

    Args:
        image_rgb: The image (H, W, 3).
        points: (N, 2) points (x, y).
        labels: (N, ) point labels, 1 positive, 0 negative.
        boxes: (M, 4) XYXY boxes with inclusive corners, or ``None``.
    """
    out = image_rgb.copy()
    for x0, y0, x1, y1 in np.zeros((0, 4)) if boxes is None else np.asarray(boxes):
        cv2.rectangle(out, (int(round(x0)), int(round(y0))), (int(round(x1)), int(round(y1))),
                      (255, 140, 0), 1)
    radius = max(1, image_rgb.shape[0] // 96)
    for (x, y), label in zip(np.asarray(points), np.asarray(labels)):
        colour = (255, 230, 0) if label == 1 else (0, 230, 255)
        cv2.circle(out, (int(round(x)), int(round(y))), radius, colour, -1)
    return out


def _titled(title: str, image: Optional[np.ndarray], size: Tuple[int, int]) -> np.ndarray:
    height, width = size
    tile = np.full((height + TITLE_HEIGHT, width, 3), 255, np.uint8)
    if image is None:
        cv2.putText(tile, 'n/a', (width // 3, TITLE_HEIGHT + height // 2),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, (120, 120, 120), 1, cv2.LINE_AA)
    else:
        tile[TITLE_HEIGHT:] = cv2.resize(image, (width, height),
                                         interpolation=cv2.INTER_NEAREST)
    cv2.putText(tile, title[:24], (2, TITLE_HEIGHT - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                (0, 0, 0), 1, cv2.LINE_AA)
    return tile


def jet_colour_bar(width: int, label: str) -> np.ndarray:
    """A titled JET colour bar from 0 (left) to 1 (right), as :func:`cam_heatmap` colours."""
    bar = np.full((TITLE_HEIGHT + 12, width, 3), 255, np.uint8)
    margin = min(60, width // 4)
    ramp = np.uint8(np.linspace(0, 255, max(width - 2 * margin, 2)))[None].repeat(10, axis=0)
    ramp = cv2.cvtColor(cv2.applyColorMap(ramp, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    bar[TITLE_HEIGHT:TITLE_HEIGHT + 10, margin:margin + ramp.shape[1]] = ramp
    for text, x in ((f'{label} 0', 2), ('1', margin + ramp.shape[1] + 4)):
        cv2.putText(bar, text, (x, TITLE_HEIGHT + 9), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                    (0, 0, 0), 1, cv2.LINE_AA)
    return bar


def panel_grid(rows: Sequence[Sequence[Panel]], footer: str = '',
               tile_size: Tuple[int, int] = (160, 160),
               colour_bar: Optional[str] = None) -> np.ndarray:
    """Stack rows of titled panels into one RGB picture, with footer lines.

    Args:
        rows: One row per patch; each panel is ``(title, RGB image or None)``.
        footer: Text under the grid (a legend, that SAM is a stand-in, ...),
            wrapped to the grid's width.
        tile_size: ``(H, W)`` of each panel.
        colour_bar: Label of a JET colour bar (0 to 1) under the grid, or ``None``.
    """
    lines: List[np.ndarray] = [np.hstack([_titled(t, im, tile_size) for t, im in row])
                               for row in rows]
    width = max(line.shape[1] for line in lines)
    lines = [np.pad(line, ((0, 0), (0, width - line.shape[1]), (0, 0)), constant_values=255)
             for line in lines]
    if colour_bar:
        lines.append(jet_colour_bar(width, colour_bar))
    for text in textwrap.wrap(footer, width=max(20, width // 6), break_long_words=True):
        bar = np.full((TITLE_HEIGHT, width, 3), 255, np.uint8)
        cv2.putText(bar, text, (2, TITLE_HEIGHT - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                    (180, 0, 0), 1, cv2.LINE_AA)
        lines.append(bar)
    return np.vstack(lines)

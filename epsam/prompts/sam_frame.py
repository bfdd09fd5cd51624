"""Map prompts from an image's own pixel frame into SAM's input frame.

SAM resizes an image so that its longest side is ``img_size`` (1024 for the
released models) and pads the bottom and right to a square ``img_size`` frame.
The resizing rule is ``segment_anything.utils.transforms.ResizeLongestSide``;
this module reuses it rather than re-deriving the output shape.

Pixel convention (the one SAM's prompt encoder uses): a point ``(x, y)`` is
given in pixel *index* coordinates, ``x`` the column and ``y`` the row, so the
integer point ``(x, y)`` is the pixel at ``image[y, x]``. The prompt encoder adds
0.5 before its positional encoding, so the continuous position of index ``x``
is ``x + 0.5`` (pixel ``0`` spans ``[0, 1)``). The centre of a 512 px patch is
therefore the index coordinate ``255.5`` (continuous ``256.0``), and the centre
of SAM's 1024 frame is ``511.5``.

``ResizeLongestSide.apply_coords`` multiplies the index coordinates directly,
which in SAM's own convention puts a point ``(s - 1) / 2`` pixels up and left of
where it belongs (half a pixel at a 2x scale). Here the coordinates are moved
to continuous positions, scaled with ``apply_coords`` and moved back, so pixel
centres map to pixel-block centres exactly.

Boxes are XYXY with inclusive corners: ``(x0, y0, x1, y1)`` are the index
coordinates of the first and last pixel covered, so the box spans the
continuous interval ``[x0, x1 + 1)``. That interval is scaled, so a box keeps
covering exactly the pixel blocks of its pixels: ``(0, 0, 511, 511)`` in a
512 px patch becomes ``(0, 0, 1023, 1023)``.
"""
from typing import Tuple

import numpy as np
import torch
import torch.nn.functional as F
from segment_anything.utils.transforms import ResizeLongestSide

#: SAM's low-resolution mask input is 4x the image-embedding grid, whose cell
#: is 16 px: ``img_size / 16 * 4 = img_size / 4`` (256 for a 1024 frame).
MASK_INPUT_STRIDE = 4
#: Added to an XYXY box to turn its inclusive last pixel into its end edge.
_BOX_END_OFFSET = np.array([0.0, 0.0, 1.0, 1.0])


def sam_input_size(image_size: Tuple[int, int], img_size: int) -> Tuple[int, int]:
    """Size (H, W) of an image after SAM's longest-side resize, before padding.

    Args:
        image_size: ``(H, W)`` of the original image in pixels.
        img_size: SAM's square input size (``image_encoder.img_size``).

    Returns:
        ``(H', W')`` with ``max(H', W') == img_size``.
    """
    height, width = _check_size(image_size, 'image_size')
    return ResizeLongestSide.get_preprocess_shape(height, width, _check_img_size(img_size))


def map_points_to_sam(points: np.ndarray, image_size: Tuple[int, int],
                      img_size: int) -> np.ndarray:
    """Map (x, y) pixel-index coordinates into SAM's ``img_size`` frame.

    Args:
        points: ``(..., 2)`` array of ``(x, y)`` pixel-index coordinates in the
            frame of ``image_size`` (see the module docstring).
        image_size: ``(H, W)`` of the frame ``points`` refer to.
        img_size: SAM's square input size.

    Returns:
        float64 array of the same shape, pixel-index coordinates in SAM's frame.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.shape[-1:] != (2,):
        raise ValueError(f'points must have shape (..., 2), got {points.shape}')
    size = _check_size(image_size, 'image_size')
    transform = ResizeLongestSide(_check_img_size(img_size))
    return transform.apply_coords(points + 0.5, size) - 0.5


def map_boxes_to_sam(boxes: np.ndarray, image_size: Tuple[int, int],
                     img_size: int) -> np.ndarray:
    """Map XYXY boxes (pixel-index corners) into SAM's ``img_size`` frame.

    Args:
        boxes: ``(M, 4)`` XYXY boxes with inclusive corners, in the frame of
            ``image_size``.
        image_size: ``(H, W)`` of the frame ``boxes`` refer to.
        img_size: SAM's square input size.

    Returns:
        ``(M, 4)`` float64 boxes in SAM's frame.
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f'boxes must have shape (M, 4), got {boxes.shape}')
    size = _check_size(image_size, 'image_size')
    edges = boxes + _BOX_END_OFFSET  # inclusive last pixel -> continuous end edge
    scaled = ResizeLongestSide(_check_img_size(img_size)).apply_boxes(edges, size)
    return scaled - _BOX_END_OFFSET


def map_mask_input_to_sam(mask_input: np.ndarray, img_size: int,
                          pad_value: float = 0.0) -> np.ndarray:
    """Resize a dense mask prompt to SAM's low-resolution mask-input frame.

    The mask is resized (bilinear, antialiased) so its longest side is
    ``img_size // 4`` and padded bottom/right to a square, as SAM pads images.

    Args:
        mask_input: ``(1, h, w)`` logits covering the whole original image.
        img_size: SAM's square input size; the output side is ``img_size // 4``.
        pad_value: logit written into the padding (0 = undecided).

    Returns:
        ``(1, img_size // 4, img_size // 4)`` float32 logits.
    """
    mask_input = np.asarray(mask_input, dtype=np.float32)
    if mask_input.ndim != 3 or mask_input.shape[0] != 1:
        raise ValueError(f'mask_input must have shape (1, h, w), got {mask_input.shape}')
    side = _check_img_size(img_size) // MASK_INPUT_STRIDE
    new_h, new_w = ResizeLongestSide.get_preprocess_shape(
        mask_input.shape[1], mask_input.shape[2], side)
    tensor = torch.from_numpy(mask_input)[None]
    if (new_h, new_w) != tuple(mask_input.shape[1:]):
        tensor = F.interpolate(tensor, size=(new_h, new_w), mode='bilinear',
                               align_corners=False, antialias=True)
    tensor = F.pad(tensor, (0, side - new_w, 0, side - new_h), value=float(pad_value))
    return tensor[0].numpy()


def _check_img_size(img_size: int) -> int:
    """Return SAM's input size as an int, or raise if it cannot be one."""
    if isinstance(img_size, bool) or not isinstance(img_size, (int, np.integer)) \
            or img_size <= 0 or img_size % 16 != 0:
        raise ValueError(
            f'img_size must be a positive multiple of 16 (SAM patch size), got {img_size!r}')
    return int(img_size)


def _check_size(size: Tuple[int, int], name: str) -> Tuple[int, int]:
    """Return ``size`` as two positive ints or raise a clear error."""
    try:
        height, width = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f'{name} must be (H, W), got {size!r}') from None
    if height <= 0 or width <= 0:
        raise ValueError(f'{name} must be positive, got {size!r}')
    return height, width

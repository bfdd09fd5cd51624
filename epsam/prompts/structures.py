"""The prompt container passed from prompt generators to SAM."""
from dataclasses import dataclass, field
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch

from .sam_frame import map_boxes_to_sam, map_mask_input_to_sam, map_points_to_sam

POSITIVE = 1
NEGATIVE = 0


@dataclass
class Prompts:
    """SAM prompts for one image, in the pixel frame of ``image_size``.

    Coordinates follow SAM's convention (see :mod:`epsam.prompts.sam_frame`):
    ``(x, y)`` are pixel-index coordinates, ``x`` the column and ``y`` the row,
    and pixel ``(x, y)`` covers the continuous square ``[x, x+1) x [y, y+1)``.

    Args:
        image_size: ``(H, W)`` of the frame the prompts refer to.
        point_coords: ``(N, 2)`` float ``(x, y)`` pixel-index coordinates.
        point_labels: ``(N,)`` int, 1 = positive (foreground), 0 = negative.
        boxes: ``(M, 4)`` float XYXY boxes; the corners are the pixel-index
            coordinates of the first and last pixel covered (inclusive).
        mask_input: ``(1, h, w)`` float logits covering the whole frame, or
            ``None``. In SAM's frame ``h = w = img_size // 4``.
    """

    image_size: Tuple[int, int]
    point_coords: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    point_labels: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int64))
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    mask_input: Optional[np.ndarray] = None

    def __post_init__(self) -> None:
        try:
            height, width = (int(v) for v in self.image_size)
        except (TypeError, ValueError):
            raise ValueError(f'Prompts.image_size must be (H, W), got {self.image_size!r}') \
                from None
        if height <= 0 or width <= 0:
            raise ValueError(f'Prompts.image_size must be positive, got {self.image_size!r}')
        self.image_size = (height, width)
        self.point_coords = _as_float_rows(self.point_coords, width=2)
        self.point_labels = np.asarray(self.point_labels, dtype=np.int64).reshape(-1)
        self.boxes = _as_float_rows(self.boxes, width=4)
        if self.point_coords.ndim != 2 or self.point_coords.shape[1] != 2:
            raise ValueError(
                f'Prompts.point_coords must have shape (N, 2), got {self.point_coords.shape}')
        if len(self.point_labels) != len(self.point_coords):
            raise ValueError(
                f'Prompts.point_labels has {len(self.point_labels)} entries but point_coords '
                f'has {len(self.point_coords)} points')
        if not np.isin(self.point_labels, (NEGATIVE, POSITIVE)).all():
            raise ValueError('Prompts.point_labels must be 1 (positive) or 0 (negative), got '
                             f'{np.unique(self.point_labels).tolist()}')
        if self.boxes.ndim != 2 or self.boxes.shape[1] != 4:
            raise ValueError(f'Prompts.boxes must have shape (M, 4), got {self.boxes.shape}')
        if not (np.isfinite(self.point_coords).all() and np.isfinite(self.boxes).all()):
            raise ValueError('Prompts.point_coords / boxes hold NaN or infinite values')
        if (self.boxes[:, 2:] < self.boxes[:, :2]).any():
            raise ValueError('Prompts.boxes must be XYXY with x1 >= x0 and y1 >= y0')
        if self.mask_input is not None:
            self.mask_input = np.asarray(self.mask_input, dtype=np.float32)
            if self.mask_input.ndim != 3 or self.mask_input.shape[0] != 1:
                raise ValueError('Prompts.mask_input must have shape (1, h, w), got '
                                 f'{self.mask_input.shape}')

    @property
    def num_points(self) -> int:
        """Number of points (positive and negative)."""
        return len(self.point_coords)

    @property
    def num_boxes(self) -> int:
        """Number of boxes."""
        return len(self.boxes)

    @property
    def is_empty(self) -> bool:
        """True when nothing marks the object: no positive point, no box, no mask input.

        Negative points alone only say where the object is not (a class whose
        CAM region is empty still gets them), so SAM is not prompted with them.
        """
        return (not (self.point_labels == POSITIVE).any() and self.num_boxes == 0
                and self.mask_input is None)

    def to_sam_frame(self, img_size: int, mask_pad_value: float = 0.0) -> 'Prompts':
        """Return these prompts mapped into SAM's square ``img_size`` frame.

        Points and boxes follow SAM's longest-side resize: a point at a pixel
        centre lands at the centre of the pixel block that pixel becomes, and a
        box keeps covering exactly the blocks of its pixels (see
        :mod:`epsam.prompts.sam_frame`). The mask input is resized to
        ``img_size // 4`` on its longest side and padded bottom/right.

        Args:
            img_size: SAM's input size (``sam.image_encoder.img_size``).
            mask_pad_value: logit written in the mask input's padding.

        Returns:
            New :class:`Prompts` with ``image_size == (img_size, img_size)``.
            Feed it to ``SamPredictor.predict_torch``, ``Sam.forward`` or the
            prompt encoder; not to ``SamPredictor.predict``, which would apply
            its own resize a second time.
        """
        mask_input = None
        if self.mask_input is not None:
            mask_input = map_mask_input_to_sam(self.mask_input, img_size, mask_pad_value)
        return Prompts(
            image_size=(int(img_size), int(img_size)),
            point_coords=map_points_to_sam(self.point_coords, self.image_size, img_size),
            point_labels=self.point_labels.copy(),
            boxes=map_boxes_to_sam(self.boxes, self.image_size, img_size),
            mask_input=mask_input)

    def to_sam_inputs(self, device: Optional[torch.device] = None
                      ) -> Dict[str, Optional[torch.Tensor]]:
        """Tensors in the layout of ``Sam.forward``'s batched-input records.

        Call it on prompts already mapped with :meth:`to_sam_frame`. SAM
        predicts one mask per box; with ``M`` boxes the points and mask input
        are repeated ``M`` times, so the batch is ``B = max(M, 1)``.

        Args:
            device: where to put the tensors.

        Returns:
            dict with ``point_coords`` (B, N, 2) float32, ``point_labels``
            (B, N) int64, ``boxes`` (B, 4) float32 and ``mask_inputs``
            (B, 1, h, w) float32; a prompt type that is absent is ``None``.
        """
        batch = max(self.num_boxes, 1)
        inputs: Dict[str, Optional[torch.Tensor]] = dict(
            point_coords=None, point_labels=None, boxes=None, mask_inputs=None)
        if self.num_points:
            coords = torch.as_tensor(self.point_coords, dtype=torch.float32, device=device)
            labels = torch.as_tensor(self.point_labels, dtype=torch.int64, device=device)
            inputs['point_coords'] = coords[None].expand(batch, -1, -1)
            inputs['point_labels'] = labels[None].expand(batch, -1)
        if self.num_boxes:
            inputs['boxes'] = torch.as_tensor(self.boxes, dtype=torch.float32, device=device)
        if self.mask_input is not None:
            mask = torch.as_tensor(self.mask_input, dtype=torch.float32, device=device)
            inputs['mask_inputs'] = mask[None].expand(batch, -1, -1, -1)
        return inputs


def _as_float_rows(values: np.ndarray, width: int) -> np.ndarray:
    """float64 copy of ``values``; an empty input becomes shape ``(0, width)``."""
    array = np.array(values, dtype=np.float64)
    return array.reshape(0, width) if array.size == 0 else array


def merge_prompts(parts: Sequence[Prompts]) -> Prompts:
    """Concatenate the points and boxes of prompts that share one frame.

    Args:
        parts: prompts with the same ``image_size``; at most one of them may
            carry a ``mask_input`` (SAM takes a single dense prompt).

    Returns:
        One :class:`Prompts` holding every point (in order) and every box.
    """
    if not parts:
        raise ValueError('merge_prompts needs at least one Prompts')
    sizes = {p.image_size for p in parts}
    if len(sizes) != 1:
        raise ValueError(f'merge_prompts: prompts refer to different image sizes {sizes}')
    masks = [p.mask_input for p in parts if p.mask_input is not None]
    if len(masks) > 1:
        raise ValueError(f'merge_prompts: {len(masks)} prompts carry a mask_input; '
                         'SAM takes at most one')
    return Prompts(
        image_size=parts[0].image_size,
        point_coords=np.concatenate([p.point_coords for p in parts]),
        point_labels=np.concatenate([p.point_labels for p in parts]),
        boxes=np.concatenate([p.boxes for p in parts]),
        mask_input=masks[0] if masks else None)

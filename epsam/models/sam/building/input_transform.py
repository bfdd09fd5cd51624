"""The one place that maps images, prompts and masks to and from SAM's frame.

SAM sees a square ``img_size`` frame: the image is resized so its longest side
is ``img_size`` (``segment_anything.utils.transforms.ResizeLongestSide``),
normalised as the variant's weights were trained (SAM's RGB mean/std, or
LiteMedSAM's per-image min-max to [0, 1]) and padded with zeros at the bottom
and right.
Predicted masks are cropped and resized back. Everything works on batched
torch tensors.

Coordinates follow SAM's prompt encoder, which adds 0.5 to a coordinate: a
point ``(x, y)`` is a pixel index (``image[y, x]``), pixel ``i`` spanning
``[i, i + 1)``. Points are moved to continuous positions, scaled and moved
back, so the centre of a 512 px patch (index 255.5) lands on the centre of
the 1024 frame (index 511.5). Boxes are XYXY with inclusive last pixels, so
``(0, 0, 511, 511)`` covers a whole 512 px patch and maps to
``(0, 0, 1023, 1023)``. This is the convention of
``epsam.prompts.sam_frame`` (its numpy twin).
"""
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from segment_anything.utils.transforms import ResizeLongestSide

from .architecture import SAM_PIXEL_MEAN, SAM_PIXEL_STD
from .variants import NORMALIZATIONS

__all__ = ['SamInputTransform']

#: Smallest range of a min-max normalised image (LiteMedSAM's clip).
MIN_MAX_EPS = 1e-8


class SamInputTransform:
    """Map between original image pixels and SAM's square input frame.

    Args:
        img_size: Side of SAM's input frame (1024 for the official models,
            ``sam.image_encoder.img_size``).
        pixel_mean: Per-channel RGB mean on the 0-255 scale.
        pixel_std: Per-channel RGB standard deviation on the 0-255 scale.
        normalization: ``'mean_std'`` (``(x - pixel_mean) / pixel_std``) or
            ``'min_max'`` (each resized image mapped to [0, 1] by its own
            minimum and maximum over all channels, as LiteMedSAM; the mean
            and std are then unused).
    """

    def __init__(self,
                 img_size: int,
                 pixel_mean: Sequence[float] = SAM_PIXEL_MEAN,
                 pixel_std: Sequence[float] = SAM_PIXEL_STD,
                 normalization: str = 'mean_std') -> None:
        if img_size <= 0:
            raise ValueError(f'img_size must be positive, got {img_size}')
        if normalization not in NORMALIZATIONS:
            raise ValueError(f'normalization must be one of {NORMALIZATIONS}, '
                             f'got {normalization!r}')
        self.img_size = int(img_size)
        self.normalization = normalization
        self._resize = ResizeLongestSide(self.img_size)
        self.pixel_mean = torch.tensor(pixel_mean, dtype=torch.float32).view(-1, 1, 1)
        self.pixel_std = torch.tensor(pixel_std, dtype=torch.float32).view(-1, 1, 1)

    @classmethod
    def from_sam(cls, sam: torch.nn.Module) -> 'SamInputTransform':
        """The transform matching a built ``Sam``: its frame, and its variant's normalisation.

        A ``Sam`` built outside epsam (no ``sam.variant``) gets SAM's mean/std
        normalisation with its own ``pixel_mean``/``pixel_std``.
        """
        variant = getattr(sam, 'variant', None)
        return cls(sam.image_encoder.img_size,
                   pixel_mean=sam.pixel_mean.flatten().tolist(),
                   pixel_std=sam.pixel_std.flatten().tolist(),
                   normalization=getattr(variant, 'normalization', 'mean_std'))

    def input_size(self, original_size: Tuple[int, int]) -> Tuple[int, int]:
        """(H, W) of an image of ``original_size`` (H, W) once resized, before padding."""
        height, width = original_size
        return self._resize.get_preprocess_shape(int(height), int(width), self.img_size)

    def apply_coords(self, coords: torch.Tensor, original_size: Tuple[int, int]) -> torch.Tensor:
        """Scale point coordinates into SAM's frame.

        Args:
            coords: Points as (x, y) pixel indices of the original image,
                shape (..., 2).
            original_size: (H, W) of the image the points refer to.

        Returns:
            Float tensor of the same shape, (x, y) pixel indices in SAM's frame.
        """
        if coords.shape[-1] != 2:
            raise ValueError('point coordinates must have shape (..., 2), '
                             f'got {tuple(coords.shape)}')
        scaled = self._resize.apply_coords_torch(coords.float() + 0.5, tuple(original_size))
        return scaled - 0.5

    def apply_boxes(self, boxes: torch.Tensor, original_size: Tuple[int, int]) -> torch.Tensor:
        """Scale XYXY boxes into SAM's frame.

        Args:
            boxes: Boxes (x0, y0, x1, y1), pixel indices of the first and last
                covered pixel of the original image, shape (..., 4).
            original_size: (H, W) of the image the boxes refer to.

        Returns:
            Float tensor of the same shape in SAM's frame (same convention).
        """
        if boxes.shape[-1] != 4:
            raise ValueError(f'boxes must have shape (..., 4) as XYXY, got {tuple(boxes.shape)}')
        end_offset = boxes.new_tensor([0.0, 0.0, 1.0, 1.0], dtype=torch.float32)
        edges = (boxes.float() + end_offset).reshape(*boxes.shape[:-1], 2, 2)
        scaled = self._resize.apply_coords_torch(edges, tuple(original_size))
        return scaled.reshape(boxes.shape) - end_offset

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """Resize, normalise and pad a batch of RGB images for the image encoder.

        Args:
            images: RGB images on the 0-255 scale, shape (B, 3, H, W); all
                images of a batch share one size.

        Returns:
            Float tensor (B, 3, img_size, img_size).
        """
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError('SAM expects RGB images of shape (B, 3, H, W), '
                             f'got {tuple(images.shape)}')
        images = images.float()
        new_h, new_w = self.input_size(images.shape[-2:])
        if (new_h, new_w) != tuple(images.shape[-2:]):
            images = F.interpolate(images, (new_h, new_w), mode='bilinear',
                                   align_corners=False, antialias=True)
        images = self.normalize(images)
        return F.pad(images, (0, self.img_size - new_w, 0, self.img_size - new_h))

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """Normalise resized, unpadded RGB images (B, 3, h, w) on the 0-255 scale."""
        if self.normalization == 'min_max':
            low = images.amin(dim=(1, 2, 3), keepdim=True)
            high = images.amax(dim=(1, 2, 3), keepdim=True)
            return (images - low) / (high - low).clamp_min(MIN_MAX_EPS)
        mean = self.pixel_mean.to(images.device)
        std = self.pixel_std.to(images.device)
        return (images - mean) / std

    def postprocess_masks(self, masks: torch.Tensor,
                          original_size: Tuple[int, int]) -> torch.Tensor:
        """Bring mask-decoder logits back to the original image size.

        Args:
            masks: Logits of any square size covering the padded SAM frame
                (the decoder gives 4 x the embedding grid), shape (B, C, h, w).
            original_size: (H, W) to return to.

        Returns:
            Logits (B, C, H, W), padding removed, bilinear resizing.
        """
        if masks.ndim != 4:
            raise ValueError(f'masks must have shape (B, C, h, w), got {tuple(masks.shape)}')
        new_h, new_w = self.input_size(original_size)
        masks = F.interpolate(masks, (self.img_size, self.img_size), mode='bilinear',
                              align_corners=False)
        masks = masks[..., :new_h, :new_w]
        return F.interpolate(masks, tuple(int(s) for s in original_size), mode='bilinear',
                             align_corners=False)

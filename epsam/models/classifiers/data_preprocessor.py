"""Data preprocessor of the patch classifier: BGR uint8 -> RGB [0, 1] (+ high-frequency)."""
from typing import Optional, Sequence

import torch
from mmengine.model import BaseDataPreprocessor
from torch import Tensor

from epsam.registry import MODELS

from ..layers import high_frequency_residual

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@MODELS.register_module()
class CAMDataPreprocessor(BaseDataPreprocessor):
    """Turn a pseudo-collated batch into the classifier's input tensor.

    Steps, on the model's device: stack the (C, H, W) images (all must have
    the same size), convert to float and divide by 255, BGR -> RGB (when
    ``bgr_to_rgb``), compute the high-frequency channel from the [0, 1] RGB
    image (when ``high_frequency`` is set), normalise RGB with ``mean`` /
    ``std`` (when given), and append the high-frequency channel last.

    Args:
        mean: per-channel RGB mean in [0, 1] units, or None (inputs stay in
            [0, 1]). ``IMAGENET_MEAN`` for ImageNet normalisation.
        std: per-channel RGB std in [0, 1] units, or None.
        bgr_to_rgb: flip the channel order (mmcv loads BGR).
        high_frequency: None for plain RGB (3 channels), or
            ``dict(square_size=2)`` to append EP-SAM's high-frequency
            residual (4 channels; the channel is not mean/std normalised).
        non_blocking: passed to mmengine's ``BaseDataPreprocessor``.
    """

    def __init__(self,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 bgr_to_rgb: bool = True,
                 high_frequency: Optional[dict] = None,
                 non_blocking: bool = False) -> None:
        super().__init__(non_blocking)
        if (mean is None) != (std is None):
            raise ValueError('CAMDataPreprocessor: give both mean and std, or neither')
        self.normalize = mean is not None
        if self.normalize:
            if len(mean) != 3 or len(std) != 3:
                raise ValueError('CAMDataPreprocessor: mean and std need 3 (RGB) values in '
                                 f'[0, 1] units, got {mean} and {std}')
            if max(mean) > 1.0 or max(std) > 1.0:
                raise ValueError('CAMDataPreprocessor: mean/std are in [0, 1] units (e.g. '
                                 f'IMAGENET_MEAN), got {mean} / {std}')
            self.register_buffer('mean', torch.tensor(mean).view(-1, 1, 1), False)
            self.register_buffer('std', torch.tensor(std).view(-1, 1, 1), False)
        self.bgr_to_rgb = bgr_to_rgb
        high_frequency = dict(high_frequency) if high_frequency is not None else None
        if high_frequency is not None:
            unknown = set(high_frequency) - {'square_size'}
            if unknown:
                raise ValueError(f'CAMDataPreprocessor: unknown high_frequency keys {unknown}')
        self.high_frequency = high_frequency

    @property
    def out_channels(self) -> int:
        """Channels of the produced tensor: 3, or 4 with the high-frequency channel."""
        return 4 if self.high_frequency is not None else 3

    def stack_images(self, inputs) -> Tensor:
        """Stack a list of (3, H, W) images (or a (B, 3, H, W) tensor) as float in [0, 255]."""
        if isinstance(inputs, Tensor):
            if inputs.dim() != 4:
                raise ValueError('CAMDataPreprocessor: a tensor batch must be (B, 3, H, W), '
                                 f'got {tuple(inputs.shape)}')
            batch = inputs
        else:
            shapes = {tuple(image.shape) for image in inputs}
            if len(shapes) != 1:
                raise ValueError('CAMDataPreprocessor: all images of a batch must have the same '
                                 f'shape (no padding is done), got {sorted(shapes)}')
            batch = torch.stack(list(inputs))
        if batch.shape[1] != 3:
            raise ValueError(f'CAMDataPreprocessor: images must have 3 channels (BGR), got '
                             f'{batch.shape[1]} (shape {tuple(batch.shape)})')
        return batch.float()

    def forward(self, data: dict, training: bool = False) -> dict:
        """Preprocess ``dict(inputs=[uint8 (3, H, W)], data_samples=[...])``.

        Returns:
            dict: ``inputs``, a (B, 3 or 4, H, W) float tensor on the model's
            device, and ``data_samples`` (moved to the same device).
        """
        data = self.cast_data(data)
        images = self.stack_images(data['inputs']) / 255.0
        if self.bgr_to_rgb:
            images = images.flip(1)
        channels = [images]
        if self.high_frequency is not None:
            channels.append(high_frequency_residual(images, **self.high_frequency))
        if self.normalize:
            channels[0] = (images - self.mean) / self.std
        return dict(inputs=torch.cat(channels, dim=1), data_samples=data.get('data_samples'))

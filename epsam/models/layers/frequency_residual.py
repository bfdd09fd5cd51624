"""High-frequency residual channel (EP-SAM's "enhanced" input)."""
import torch
from torch import Tensor, nn

from epsam.registry import MODELS


def high_frequency_residual(images: Tensor, square_size: int = 2) -> Tensor:
    """High-frequency residual of a batch of images.

    For each channel: 2-D FFT, shift the zero frequency to the centre, zero a
    centred ``square_size`` x ``square_size`` square of low frequencies (the
    square always contains the zero frequency), shift back, inverse FFT and
    take the absolute value. The result is averaged over the channels.

    Args:
        images: (B, C, H, W) images, typically RGB in [0, 1].
        square_size: side, in frequency bins, of the centred square that is
            zeroed. EP-SAM uses 2. Must be in [1, min(H, W)].

    Returns:
        Tensor: (B, 1, H, W) float residual, in the units of ``images``
        (a constant image gives zeros).
    """
    if images.dim() != 4:
        raise ValueError('high_frequency_residual: expected images of shape (B, C, H, W), '
                         f'got {tuple(images.shape)}')
    height, width = images.shape[-2:]
    if not 1 <= square_size <= min(height, width):
        raise ValueError('high_frequency_residual: square_size must be in '
                         f'[1, {min(height, width)}] for {height}x{width} images, '
                         f'got {square_size}')
    if not images.is_floating_point():
        images = images.float()
    spectrum = torch.fft.fftshift(torch.fft.fft2(images), dim=(-2, -1))
    # After fftshift the zero frequency sits at (H // 2, W // 2).
    top = height // 2 - square_size // 2
    left = width // 2 - square_size // 2
    spectrum[..., top:top + square_size, left:left + square_size] = 0
    residual = torch.fft.ifft2(torch.fft.ifftshift(spectrum, dim=(-2, -1))).abs()
    return residual.mean(dim=1, keepdim=True).to(images.dtype)


@MODELS.register_module()
class HighFrequencyChannel(nn.Module):
    """Module form of :func:`high_frequency_residual`.

    Args:
        square_size: side of the zeroed low-frequency square (EP-SAM: 2).
        append: if True, return the input with the residual appended as an
            extra channel, (B, C + 1, H, W); otherwise only the residual,
            (B, 1, H, W).
    """

    def __init__(self, square_size: int = 2, append: bool = True) -> None:
        super().__init__()
        if square_size < 1:
            raise ValueError(f'HighFrequencyChannel: square_size must be >= 1, got {square_size}')
        self.square_size = int(square_size)
        self.append = append

    def forward(self, images: Tensor) -> Tensor:
        residual = high_frequency_residual(images, self.square_size)
        return torch.cat([images, residual], dim=1) if self.append else residual

    def extra_repr(self) -> str:
        return f'square_size={self.square_size}, append={self.append}'

"""Per-channel FFT high-pass maps for the adapters (CAD, SAM-Adapter).

The FFT, the centred low-frequency square and the absolute value are those of
:func:`epsam.models.layers.high_frequency_residual` (EP-SAM's classifier
channel); the adapters differ only in keeping one map per channel instead of
the channel mean, and in the size of the square, which scales with the image.
"""
import math

from torch import Tensor

from epsam.models.layers.frequency_residual import high_frequency_residual

__all__ = ['high_pass_per_channel', 'square_side_from_ratio', 'square_side_from_area']


def square_side_from_ratio(size: int, ratio: float) -> int:
    """Side of a centred square that is ``ratio`` x ``size`` (CAD: 0.25).

    Args:
        size: Image side, in pixels (= frequency bins).
        ratio: Fraction of the side, in (0, 1].

    Returns:
        ``round(ratio * size)``, at least 1.
    """
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f'square_side_from_ratio: ratio must be in (0, 1], got {ratio}')
    return max(1, int(round(ratio * size)))


def square_side_from_area(height: int, width: int, area: float) -> int:
    """Side of a centred square covering ``area`` of the spectrum (SAM-Adapter).

    SAM-Adapter's ``freq_nums = 0.25`` zeroes a square of half-side
    ``floor(sqrt(H * W * area) / 2)``, i.e. a side of ``0.5 x size`` for a
    square image.

    Args:
        height: Image height, in pixels.
        width: Image width, in pixels.
        area: Fraction of the ``H x W`` spectrum, in (0, 1].

    Returns:
        An even side, at least 2 and at most ``min(height, width)``.
    """
    if not 0.0 < area <= 1.0:
        raise ValueError(f'square_side_from_area: area must be in (0, 1], got {area}')
    half = int(math.sqrt(height * width * area) // 2)
    return min(max(2, 2 * half), min(height, width))


def high_pass_per_channel(images: Tensor, square_side: int) -> Tensor:
    """High-frequency map of every channel.

    Per channel: 2-D FFT, shift, zero the centred ``square_side`` x
    ``square_side`` low-frequency square, inverse FFT, absolute value.

    Args:
        images: (B, C, H, W) float images in any units.
        square_side: Side of the zeroed square, in frequency bins,
            in [1, min(H, W)].

    Returns:
        (B, C, H, W) non-negative map in the units of ``images``.
    """
    if images.dim() != 4:
        raise ValueError('high_pass_per_channel: expected images of shape (B, C, H, W), '
                         f'got {tuple(images.shape)}')
    batch, channels, height, width = images.shape
    flat = images.reshape(batch * channels, 1, height, width)
    return high_frequency_residual(flat, square_size=square_side).reshape(
        batch, channels, height, width)

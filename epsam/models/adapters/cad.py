"""CAD: the parallel convolutional adapter for SAM (arXiv 2409.15889).

The adapter sees the image and its high-frequency map, never the encoder's
activations, so the frozen encoder runs without autograd and backward stops at
the fusion ``embedding = encoder(x) + scale * tanh(adapter(x))``.
"""
import contextlib
from typing import Any, Dict, List, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from segment_anything.utils.transforms import ResizeLongestSide
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from epsam.registry import MODELS

from .base import AdapterCompatibilityError, EncoderSpec, ParallelSamAdapter
from .high_pass import high_pass_per_channel, square_side_from_ratio

__all__ = ['CADAdapter', 'CADBlock', 'cad_parameter_count']


@contextlib.contextmanager
def _keep_running_stats(norms: Sequence[nn.modules.batchnorm._BatchNorm]):
    """Undo the running-statistic update of a checkpoint's recomputation."""
    saved = [(norm, {name: buf.clone() for name, buf in norm.named_buffers(recurse=False)})
             for norm in norms]
    try:
        yield
    finally:
        with torch.no_grad():
            for norm, buffers in saved:
                for name, value in buffers.items():
                    getattr(norm, name).copy_(value)


class CADBlock(nn.Module):
    """3x3 conv (dilation 2) -> BatchNorm -> LeakyReLU(0.1) -> + input -> 2x2 avg pool.

    Args:
        channels: Input and output channels.
        with_cp: Recompute the block in backward (activation checkpointing)
            instead of keeping its activations; BatchNorm's running
            statistics are updated once per forward either way.
    """

    def __init__(self, channels: int, with_cp: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size=3, padding=2, dilation=2)
        self.norm = nn.BatchNorm2d(channels)
        self.act = nn.LeakyReLU(0.1)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)
        self.with_cp = with_cp

    def _forward(self, x: Tensor) -> Tensor:
        return self.pool(x + self.act(self.norm(self.conv(x))))

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H / 2, W / 2)."""
        if self.with_cp and torch.is_grad_enabled() and x.requires_grad:
            return checkpoint(self._forward, x, use_reentrant=False,
                              context_fn=lambda: (contextlib.nullcontext(),
                                                  _keep_running_stats([self.norm])))
        return self._forward(x)


@MODELS.register_module()
class CADAdapter(ParallelSamAdapter):
    """CAD parallel convolutional adapter.

    Input: the RGB image resized to ``input_size`` (0-255) and its per-channel
    high-frequency map (FFT, centred low-frequency square of side
    ``low_freq_ratio x input_size`` zeroed, inverse FFT, absolute value): 6
    channels, each divided by its spatial maximum (an all-zero channel stays
    zero). Then a 1x1 conv to ``channels``, ``depth`` :class:`CADBlock` s, each
    block's output adaptive-average-pooled to ``embedding_size``, the pooled
    maps summed, and ``tanh``. With the defaults this is about 1.77M parameters
    (1,773,568 exactly).

    Size constraint (checked at construction): ``input_size`` must be a
    multiple of ``2 ** depth`` and ``input_size / 2 ** depth`` a multiple of
    ``embedding_size``, so every block halves its map exactly and every
    adaptive pooling averages whole, equal windows (never upsamples).

    Args:
        channels: Width of the adapter and of its output; must equal the
            encoder's output channels (256) for ``fusion_point='neck'`` or its
            ``embed_dim`` for ``'blocks'``.
        embedding_size: Side of the encoder's embedding grid (64 for the
            official SAM variants at 1024 px).
        input_size: Side the image is resized to, in pixels (CAD: 512).
        depth: Number of conv blocks (CAD: 3).
        low_freq_ratio: Side of the zeroed low-frequency square as a fraction
            of ``input_size`` (CAD: 0.25).
        scale: Weight of the adapter output in the fusion (CAD: 0.1).
        fusion_point: ``'neck'`` (CAD: after the encoder neck) or
            ``'blocks'`` (before the neck).
        with_cp: Activation checkpointing in the conv blocks
            ("memory-lean CAD"): same outputs and gradients, less memory, one
            more forward of the blocks in backward.
    """

    def __init__(self,
                 channels: int = 256,
                 embedding_size: int = 64,
                 input_size: int = 512,
                 depth: int = 3,
                 low_freq_ratio: float = 0.25,
                 scale: float = 0.1,
                 fusion_point: str = 'neck',
                 with_cp: bool = False) -> None:
        super().__init__()
        if fusion_point not in self.FUSION_POINTS:
            raise ValueError(f'CADAdapter: fusion_point must be one of {self.FUSION_POINTS}, '
                             f'got {fusion_point!r}')
        for name, value in (('channels', channels), ('embedding_size', embedding_size),
                            ('input_size', input_size), ('depth', depth)):
            if int(value) != value or value < 1:
                raise ValueError(f'CADAdapter: {name} must be a positive integer, got {value!r}')
        stride = 2 ** depth
        if input_size % stride or (input_size // stride) % embedding_size:
            raise AdapterCompatibilityError(
                f'CADAdapter: input_size={input_size} with depth={depth} gives a last map of '
                f'{input_size / stride:g} px, which must be a whole multiple of '
                f'embedding_size={embedding_size}; input_size must be a multiple of '
                f'2**depth * embedding_size = {stride * embedding_size}')
        self.channels = int(channels)
        self.embedding_size = int(embedding_size)
        self.input_size = int(input_size)
        self.depth = int(depth)
        self.low_freq_side = square_side_from_ratio(input_size, low_freq_ratio)
        self.scale = float(scale)
        self.fusion_point = fusion_point
        self.stem = nn.Conv2d(6, channels, kernel_size=1)
        self.blocks = nn.ModuleList(CADBlock(channels, with_cp=with_cp) for _ in range(depth))

    @classmethod
    def encoder_defaults(cls, spec: EncoderSpec, **settings) -> Dict[str, Any]:
        neck = settings.get('fusion_point', 'neck') == 'neck'
        return dict(channels=spec.out_channels if neck else spec.embed_dim,
                    embedding_size=spec.grid)

    def expected_sizes(self) -> Dict[str, Tuple[str, int]]:
        field = 'out_channels' if self.fusion_point == 'neck' else 'embed_dim'
        return {field: ('channels', self.channels),
                'grid': ('embedding_size', self.embedding_size)}

    def check_compatible(self, sam_or_encoder) -> None:
        """See :meth:`BaseSamAdapter.check_compatible`; also names the fusion point."""
        try:
            super().check_compatible(sam_or_encoder)
        except AdapterCompatibilityError as error:
            raise AdapterCompatibilityError(
                f'{error} (fusion_point={self.fusion_point!r})') from None

    def prepare_inputs(self, images: Union[Tensor, List[Tensor]]) -> Tensor:
        """The 6-channel, max-normalised adapter input.

        Args:
            images: RGB images on the 0-255 scale, (B, 3, H, W) or a list of
                (3, H_i, W_i); each is resized (bilinear) so its longest side
                is ``input_size`` and zero-padded to a square, like SAM's frame.

        Returns:
            (B, 6, input_size, input_size) in [0, 1] for non-negative images.
        """
        if isinstance(images, Tensor):
            images = list(images) if images.dim() == 4 else [images]
        if not images:
            raise ValueError('CADAdapter: no images given')
        resized = []
        for image in images:
            if image.dim() != 3 or image.shape[0] != 3:
                raise ValueError('CADAdapter expects RGB images (3, H, W) or (B, 3, H, W), '
                                 f'got an image of shape {tuple(image.shape)}')
            resized.append(self._to_frame(image[None].float()))
        rgb = torch.cat(resized).to(self.stem.weight.dtype)
        stacked = torch.cat([rgb, high_pass_per_channel(rgb, self.low_freq_side)], dim=1)
        peak = stacked.amax(dim=(-2, -1), keepdim=True)
        return stacked / torch.where(peak > 0, peak, torch.ones_like(peak))

    def _to_frame(self, image: Tensor) -> Tensor:
        """Place an image (1, 3, H, W) in the adapter's square frame as SAM places it in its own.

        The longest side is resized to ``input_size`` and the rest padded with
        zeros at the bottom/right, so each cell of the adapter's output grid
        covers the same image area as the encoder's embedding cell (a square
        image is simply resized).
        """
        height, width = image.shape[-2:]
        new_h, new_w = ResizeLongestSide.get_preprocess_shape(height, width, self.input_size)
        if (new_h, new_w) != (height, width):
            image = F.interpolate(image, size=(new_h, new_w), mode='bilinear',
                                  align_corners=False)
        return F.pad(image, (0, self.input_size - new_w, 0, self.input_size - new_h))

    def forward(self, images: Union[Tensor, List[Tensor]]) -> Tensor:
        """Adapter output ``delta``.

        Args:
            images: See :meth:`prepare_inputs`.

        Returns:
            (B, channels, embedding_size, embedding_size) in (-1, 1).
        """
        x = self.stem(self.prepare_inputs(images))
        grid = (self.embedding_size, self.embedding_size)
        total = None
        for block in self.blocks:
            x = block(x)
            pooled = F.adaptive_avg_pool2d(x, grid)
            total = pooled if total is None else total + pooled
        return torch.tanh(total)

    def extra_repr(self) -> str:
        return (f'input_size={self.input_size}, embedding_size={self.embedding_size}, '
                f'low_freq_side={self.low_freq_side}, scale={self.scale}, '
                f'fusion_point={self.fusion_point!r}')


def cad_parameter_count(channels: int = 256, depth: int = 3) -> int:
    """Closed-form parameter count of :class:`CADAdapter` (for checks and docs).

    1x1 stem ``6 * C + C``; per block a 3x3 conv ``9 * C * C + C`` and a
    BatchNorm ``2 * C``.
    """
    return 7 * channels + depth * (9 * channels * channels + 3 * channels)

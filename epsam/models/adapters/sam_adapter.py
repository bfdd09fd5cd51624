"""SAM-Adapter (Chen et al., 2023): a prompt added to every ViT block's input.

With ``d = embed_dim // reduction`` (``reduction`` 32: 24 for ViT-B):

1. embedding feature: the patch embedding's output (B, g, g, C), before the
   positional embedding, projected by a shared ``Linear(C -> d)``;
2. handcrafted feature: the per-channel FFT high-pass map of the encoder's
   input image (low-frequency square covering ``low_freq_area`` of the
   spectrum, i.e. side 0.5 x size for 0.25), embedded by its own patch
   embedding ``Conv2d(3 -> d, kernel = stride = patch_size)``;
3. per block ``i``: ``prompt_i = up(gelu(W_i (embedding + handcrafted)))``
   with a per-block ``W_i = Linear(d -> d)`` and a shared
   ``up = Linear(d -> C)``, added to the block's input.

Prompts are computed one block at a time (same values as computing them all
up front, less peak memory). The prompts are not zero at initialisation (the
up-projection uses SAM-Adapter's truncated-normal init, std 0.02), so an
installed adapter changes the encoder's output from the start unless
``zero_init_up=True``.
"""
from functools import partial
from typing import List, Optional

import torch
from torch import Tensor, nn

from epsam.registry import MODELS

from .base import EncoderSpec, InEncoderSamAdapter
from .high_pass import high_pass_per_channel, square_side_from_area

__all__ = ['SAMAdapter']


@MODELS.register_module()
class SAMAdapter(InEncoderSamAdapter):
    """SAM-Adapter's per-block prompt generator.

    Args:
        embed_dim: ViT token width of the target encoder.
        depth: Number of ViT blocks of the target encoder.
        img_size: Side of the encoder's input frame, in pixels (1024).
        patch_size: Patch side of the encoder, in pixels (16).
        reduction: ``embed_dim // reduction`` is the prompt width (32; 4 to
            32 are common).
        low_freq_area: Fraction of the spectrum zeroed by the high-pass, as
            SAM-Adapter's ``freq_nums`` (0.25).
        zero_init_up: Zero the shared up-projection, so the prompts start at
            zero (SAM-Adapter itself does not).
    """

    def __init__(self,
                 embed_dim: int,
                 depth: int,
                 img_size: int = 1024,
                 patch_size: int = 16,
                 reduction: int = 32,
                 low_freq_area: float = 0.25,
                 zero_init_up: bool = False) -> None:
        super().__init__(embed_dim=embed_dim, depth=depth)
        hidden_dim = embed_dim // reduction
        if hidden_dim < 1:
            raise ValueError(f'SAMAdapter: reduction={reduction} leaves no prompt channel for '
                             f'embed_dim={embed_dim}')
        if img_size % patch_size:
            raise ValueError(f'SAMAdapter: img_size={img_size} is not a multiple of '
                             f'patch_size={patch_size}')
        self.img_size = int(img_size)
        self.patch_size = int(patch_size)
        self.hidden_dim = hidden_dim
        self.low_freq_side = square_side_from_area(img_size, img_size, low_freq_area)
        self.embedding_down = nn.Linear(embed_dim, hidden_dim)
        self.handcrafted_embed = nn.Conv2d(3, hidden_dim, kernel_size=patch_size,
                                           stride=patch_size)
        self.block_mlps = nn.ModuleList(
            nn.Sequential(nn.Linear(hidden_dim, hidden_dim), nn.GELU()) for _ in range(depth))
        self.shared_up = nn.Linear(hidden_dim, embed_dim)
        for linear in [self.embedding_down, self.shared_up,
                       *(mlp[0] for mlp in self.block_mlps)]:
            nn.init.trunc_normal_(linear.weight, std=0.02)
            nn.init.zeros_(linear.bias)
        if zero_init_up:
            nn.init.zeros_(self.shared_up.weight)
        self._image: Optional[Tensor] = None
        self._features: Optional[Tensor] = None

    @classmethod
    def encoder_defaults(cls, spec: EncoderSpec, **settings) -> dict:
        return dict(embed_dim=spec.embed_dim, depth=spec.depth, img_size=spec.img_size,
                    patch_size=spec.patch_size)

    def expected_sizes(self) -> dict:
        return {**super().expected_sizes(), 'img_size': ('img_size', self.img_size),
                'patch_size': ('patch_size', self.patch_size)}

    def prompt_features(self, image: Tensor, patch_tokens: Tensor) -> Tensor:
        """Sum of the embedding and handcrafted features.

        Args:
            image: The encoder's input (B, 3, img_size, img_size), normalised.
            patch_tokens: The patch embedding's output (B, g, g, embed_dim).

        Returns:
            (B, g, g, hidden_dim).
        """
        high_pass = high_pass_per_channel(image, self.low_freq_side)
        handcrafted = self.handcrafted_embed(high_pass).permute(0, 2, 3, 1)
        return self.embedding_down(patch_tokens) + handcrafted

    def block_prompt(self, index: int, features: Tensor) -> Tensor:
        """Prompt of block ``index``, (B, g, g, embed_dim)."""
        return self.shared_up(self.block_mlps[index](features))

    # --- hooks -------------------------------------------------------------
    def _encoder_pre_hook(self, module: nn.Module, args: tuple) -> None:
        self._image = args[0]
        self._features = None

    def _patch_embed_hook(self, module: nn.Module, args: tuple, output: Tensor) -> None:
        if self._image is None:
            raise RuntimeError('SAMAdapter: the patch embedding ran outside the image encoder')
        self._features = self.prompt_features(self._image, output)

    def _block_pre_hook(self, index: int, module: nn.Module, args: tuple) -> tuple:
        return (args[0] + self.block_prompt(index, self._features), *args[1:])

    def _encoder_hook(self, module: nn.Module, args: tuple, output: Tensor) -> None:
        self._image = None
        self._features = None

    def _register_hooks(self, encoder: nn.Module) -> List[torch.utils.hooks.RemovableHandle]:
        handles = [encoder.register_forward_pre_hook(self._encoder_pre_hook),
                   encoder.patch_embed.register_forward_hook(self._patch_embed_hook)]
        handles += [block.register_forward_pre_hook(partial(self._block_pre_hook, index))
                    for index, block in enumerate(encoder.blocks)]
        handles.append(encoder.register_forward_hook(self._encoder_hook))
        return handles

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, hidden_dim={self.hidden_dim}, '
                f'low_freq_side={self.low_freq_side}')

"""Bottleneck adapters in every ViT block (Medical SAM Adapter style).

Per block, with ``h = dim * ratio`` (0.25 x dim):

- after attention: ``a = attn(norm1(x)); a = a + up(gelu(down(a)))`` (the
  "space" adapter, with its own skip), then the block's residual ``x + a``;
- parallel to the MLP: ``x = x + mlp(n) + scale * up(gelu(down(n)))`` with
  ``n = norm2(x)`` (no skip of its own; scale 0.5).

With ``zero_init_up=True`` (default) the up-projections start at zero, so an
installed adapter leaves the encoder's output unchanged; the Medical SAM
Adapter code uses PyTorch's default initialisation instead
(``zero_init_up=False``).
"""
from functools import partial
from typing import List

import torch
from torch import Tensor, nn

from epsam.registry import MODELS

from .base import AdapterCompatibilityError, EncoderSpec, InEncoderSamAdapter

__all__ = ['Bottleneck', 'BottleneckAdapter']


class Bottleneck(nn.Module):
    """Linear (dim -> hidden) -> GELU -> Linear (hidden -> dim), optional skip.

    Args:
        dim: Token width.
        hidden_dim: Bottleneck width.
        skip: Return ``x + f(x)`` instead of ``f(x)``.
        zero_init_up: Start the up-projection (weight and bias) at zero.
    """

    def __init__(self, dim: int, hidden_dim: int, skip: bool, zero_init_up: bool) -> None:
        super().__init__()
        self.down = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.up = nn.Linear(hidden_dim, dim)
        self.skip = skip
        if zero_init_up:
            nn.init.zeros_(self.up.weight)
            nn.init.zeros_(self.up.bias)

    def forward(self, x: Tensor) -> Tensor:
        """(..., dim) -> (..., dim)."""
        out = self.up(self.act(self.down(x)))
        return x + out if self.skip else out


@MODELS.register_module()
class BottleneckAdapter(InEncoderSamAdapter):
    """Medical-SAM-Adapter-style bottleneck adapters in every block.

    Args:
        embed_dim: ViT token width of the target encoder.
        depth: Number of ViT blocks of the target encoder.
        ratio: Bottleneck width as a fraction of ``embed_dim`` (0.25).
        mlp_scale: Weight of the adapter parallel to the MLP (0.5).
        zero_init_up: Zero the up-projections so the adapter starts as the
            identity (see the module docstring).
    """

    def __init__(self,
                 embed_dim: int,
                 depth: int,
                 ratio: float = 0.25,
                 mlp_scale: float = 0.5,
                 zero_init_up: bool = True) -> None:
        super().__init__(embed_dim=embed_dim, depth=depth)
        hidden_dim = int(embed_dim * ratio)
        if hidden_dim < 1:
            raise ValueError(f'BottleneckAdapter: ratio={ratio} leaves no hidden unit for '
                             f'embed_dim={embed_dim}')
        self.hidden_dim = hidden_dim
        self.mlp_scale = float(mlp_scale)
        self.attn_adapters = nn.ModuleList(
            Bottleneck(embed_dim, hidden_dim, skip=True, zero_init_up=zero_init_up)
            for _ in range(depth))
        self.mlp_adapters = nn.ModuleList(
            Bottleneck(embed_dim, hidden_dim, skip=False, zero_init_up=zero_init_up)
            for _ in range(depth))

    def _check_structure(self, encoder: nn.Module, spec: EncoderSpec) -> None:
        for index, block in enumerate(encoder.blocks):
            missing = [name for name in ('attn', 'mlp') if not isinstance(
                getattr(block, name, None), nn.Module)]
            if missing:
                raise AdapterCompatibilityError(
                    f'BottleneckAdapter needs blocks[{index}] of {spec.label} '
                    f'to have submodules {missing}')

    def _attn_hook(self, index: int, module: nn.Module, args: tuple, output: Tensor) -> Tensor:
        """Forward hook of ``blocks[index].attn`` (windowed tokens, (..., dim))."""
        return self.attn_adapters[index](output)

    def _mlp_hook(self, index: int, module: nn.Module, args: tuple, output: Tensor) -> Tensor:
        """Forward hook of ``blocks[index].mlp``; ``args[0]`` is ``norm2(x)``."""
        return output + self.mlp_scale * self.mlp_adapters[index](args[0])

    def _register_hooks(self, encoder: nn.Module) -> List[torch.utils.hooks.RemovableHandle]:
        handles = []
        for index, block in enumerate(encoder.blocks):
            handles.append(block.attn.register_forward_hook(partial(self._attn_hook, index)))
            handles.append(block.mlp.register_forward_hook(partial(self._mlp_hook, index)))
        return handles

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, hidden_dim={self.hidden_dim}, '
                f'mlp_scale={self.mlp_scale}')

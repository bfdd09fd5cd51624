"""LoRA on the attention projections of SAM's image encoder (SAMed style).

Each block's fused ``attn.qkv`` Linear (``dim -> 3 * dim``, laid out q | k | v)
gets a low-rank update on the chosen slices: ``q += (alpha / rank) * B_q A_q x``
and likewise for v. ``B`` starts at zero, so an installed adapter leaves the
encoder's output unchanged until it trains.
"""
import math
from functools import partial
from typing import List, Sequence

import torch
from torch import Tensor, nn

from epsam.registry import MODELS

from .base import AdapterCompatibilityError, EncoderSpec, InEncoderSamAdapter

__all__ = ['LoRAAdapter']

_SLICES = ('q', 'k', 'v')


class _LowRank(nn.Module):
    """``B A x``: down (dim -> rank, Kaiming-uniform) then up (rank -> dim, zeros)."""

    def __init__(self, dim: int, rank: int) -> None:
        super().__init__()
        self.down = nn.Linear(dim, rank, bias=False)
        self.up = nn.Linear(rank, dim, bias=False)
        nn.init.kaiming_uniform_(self.down.weight, a=math.sqrt(5))
        nn.init.zeros_(self.up.weight)

    def forward(self, x: Tensor) -> Tensor:
        return self.up(self.down(x))


@MODELS.register_module()
class LoRAAdapter(InEncoderSamAdapter):
    """Low-rank adapters on q and v of every block's ``qkv`` projection.

    Args:
        embed_dim: ViT token width of the target encoder.
        depth: Number of ViT blocks of the target encoder.
        rank: LoRA rank (SAMed: 4).
        alpha: The update is scaled by ``alpha / rank``; ``None`` means
            ``alpha = rank`` (scale 1, as in SAMed).
        targets: Which of ``'q'``, ``'k'``, ``'v'`` get an update (SAMed: q, v).
    """

    def __init__(self,
                 embed_dim: int,
                 depth: int,
                 rank: int = 4,
                 alpha: float = None,
                 targets: Sequence[str] = ('q', 'v')) -> None:
        super().__init__(embed_dim=embed_dim, depth=depth)
        if int(rank) != rank or not 1 <= rank <= embed_dim:
            raise ValueError(f'LoRAAdapter: rank must be an integer in [1, embed_dim={embed_dim}]'
                             f', got {rank!r}')
        targets = tuple(targets)
        if not targets or set(targets) - set(_SLICES) or len(set(targets)) != len(targets):
            raise ValueError(f"LoRAAdapter: targets must be distinct names from {_SLICES}, "
                             f'got {targets}')
        self.rank = int(rank)
        self.alpha = float(rank if alpha is None else alpha)
        self.scaling = self.alpha / self.rank
        self.targets = tuple(name for name in _SLICES if name in targets)
        self.lora = nn.ModuleList(
            nn.ModuleDict({name: _LowRank(embed_dim, self.rank) for name in self.targets})
            for _ in range(depth))

    def _check_structure(self, encoder: nn.Module, spec: EncoderSpec) -> None:
        for index, block in enumerate(encoder.blocks):
            qkv = getattr(getattr(block, 'attn', None), 'qkv', None)
            if not isinstance(qkv, nn.Linear) or \
                    (qkv.in_features, qkv.out_features) != (self.embed_dim, 3 * self.embed_dim):
                found = (f'Linear({qkv.in_features} -> {qkv.out_features})'
                         if isinstance(qkv, nn.Linear) else type(qkv).__name__)
                raise AdapterCompatibilityError(
                    f'LoRAAdapter needs blocks[{index}].attn.qkv of {spec.label} '
                    f'to be Linear({self.embed_dim} -> {3 * self.embed_dim}), found {found}')

    def _qkv_hook(self, index: int, module: nn.Module, args: tuple, output: Tensor) -> Tensor:
        """Forward hook of ``blocks[index].attn.qkv``: add the low-rank updates."""
        x = args[0]
        parts = list(output.split(self.embed_dim, dim=-1))
        for name, low_rank in self.lora[index].items():
            slot = _SLICES.index(name)
            parts[slot] = parts[slot] + self.scaling * low_rank(x)
        return torch.cat(parts, dim=-1)

    def _register_hooks(self, encoder: nn.Module) -> List[torch.utils.hooks.RemovableHandle]:
        return [block.attn.qkv.register_forward_hook(partial(self._qkv_hook, index))
                for index, block in enumerate(encoder.blocks)]

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, rank={self.rank}, alpha={self.alpha}, '
                f'targets={self.targets}')

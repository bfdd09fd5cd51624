"""Chunking of the fused relative-position attention: every chunk shape gives the same values."""
import pytest
import torch

import epsam  # noqa: F401  (before mmseg.models)
from epsam.models.sam import build_sam
from epsam.models.sam.building import fused_attention as fused
from epsam.models.sam.building.fused_attention import rel_pos_attention, use_fused_attention


def _inputs(batch=3, heads=4, grid=6, dim=8, seed=0):
    gen = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(batch, heads, grid * grid, dim, generator=gen) for _ in range(3))
    rel_h = torch.randn(batch, heads, grid, grid, grid, generator=gen)
    rel_w = torch.randn(batch, heads, grid, grid, grid, generator=gen)
    return q, k, v, rel_h, rel_w


def _reference(q, k, v, rel_h, rel_w):
    batch, heads, grid = rel_h.shape[:3]
    attn = (q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)
    attn = attn.view(batch, heads, grid, grid, grid, grid) + rel_h[..., None] + rel_w[..., None, :]
    return attn.view(batch, heads, grid * grid, -1).softmax(-1) @ v


@pytest.mark.parametrize('budget,min_queries', [(1, 1), (6 * 36 * 4, 6), (4 * 6 * 36 * 4, 1),
                                                (1, 10 ** 6), (2 ** 30, 1)])
def test_chunk_shapes_agree_with_one_call(budget, min_queries, monkeypatch):
    """Batch, head and row chunks (and a reused bias buffer) change no value."""
    inputs = _inputs()
    with torch.no_grad():
        monkeypatch.setattr(fused, 'CPU_BIAS_CHUNK_BYTES', 2 ** 40)
        whole = rel_pos_attention(*inputs)
        monkeypatch.setattr(fused, 'CPU_BIAS_CHUNK_BYTES', budget)
        monkeypatch.setattr(fused, 'CPU_MIN_QUERIES', min_queries)
        chunked = rel_pos_attention(*inputs)
    assert torch.allclose(chunked, whole, atol=1e-6)
    assert torch.allclose(whole, _reference(*inputs), atol=1e-5)


def test_chunk_shape_on_cpu_and_cuda():
    cpu, cuda = torch.device('cpu'), torch.device('cuda')
    unit = 64 * 4096 * 4  # one head and grid row of a 1024 px global block, fp32
    # CPU: 16 rows (1024 queries) of one head fit the 24 MiB budget
    assert fused._chunk_shape(1, 12, 64, unit, 64, cpu) == (1, 1, 16)
    # a GPU takes as many rows of every head as 2 GiB holds
    assert fused._chunk_shape(1, 12, 64, unit, 64, cuda) == (1, 12, 64)
    # windows (batch 25, 14 x 14): all heads, as many windows as fit
    assert fused._chunk_shape(25, 12, 14, 14 * 196 * 4, 14, cpu) == (13, 12, 14)


def test_gradient_path_matches_no_grad_path(monkeypatch):
    monkeypatch.setattr(fused, 'CPU_BIAS_CHUNK_BYTES', 1)
    monkeypatch.setattr(fused, 'CPU_MIN_QUERIES', 12)
    inputs = [t.clone().requires_grad_(True) for t in _inputs(batch=2)]
    out = rel_pos_attention(*inputs)
    with torch.no_grad():
        assert torch.allclose(out, rel_pos_attention(*inputs), atol=1e-6)
    out.square().sum().backward()
    assert all(t.grad is not None and t.grad.abs().sum() > 0 for t in inputs)


def test_patch_embed_tokens_contiguous_and_restored():
    torch.manual_seed(0)
    sam = build_sam('tiny', pretrained=False)
    patch_embed = sam.image_encoder.patch_embed
    frames = torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        stock = patch_embed(frames)
        use_fused_attention(sam)
        tokens = patch_embed(frames)
        assert tokens.is_contiguous() and not stock.is_contiguous()
        assert torch.equal(tokens, stock)
        use_fused_attention(sam, enabled=False)
        assert 'forward' not in patch_embed.__dict__
        assert patch_embed(frames).stride() == stock.stride()

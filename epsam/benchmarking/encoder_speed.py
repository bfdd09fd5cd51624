"""What a SAM image encoder costs: FLOPs per image, seconds per image, the machine's peak.

Used by ``tools/benchmarks/sam_encoder_efficiency.py`` and the pseudo-label
throughput benchmark. FLOPs are 2 x multiply-adds as counted by
``torch.utils.flop_counter.FlopCounterMode`` (matrix products and
convolutions; element-wise work is not counted).
"""
import os
import time
from contextlib import nullcontext
from typing import Dict, Optional, Tuple

import torch
from torch.utils.flop_counter import FlopCounterMode

from epsam.models.sam.building.architecture import build_sam_from_variant
from epsam.models.sam.building.builder import resolve_sam_weights
from epsam.models.sam.building.fused_attention import use_fused_attention
from epsam.models.sam.building.variants import get_sam_variant

__all__ = ['encoder_flops', 'matmul_peak_gflops', 'seconds_per_image', 'compare_fused_attention',
           'load_average', 'sam_weights_note']


def encoder_flops(variant: str) -> int:
    """FLOPs of one image through a variant's image encoder, counted on ``meta`` (no memory)."""
    with torch.device('meta'):
        sam = build_sam_from_variant(get_sam_variant(variant))
        size = sam.image_encoder.img_size
        image = torch.empty(1, 3, size, size)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        sam.image_encoder(image)
    return int(counter.get_total_flops())


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def matmul_peak_gflops(device: str = 'cpu', dtype: Optional[torch.dtype] = None,
                       size: int = 4096, repeats: int = 3) -> float:
    """GFLOP/s of the best of ``repeats`` square ``size`` x ``size`` matrix products.

    Args:
        device: ``'cpu'`` or a CUDA device.
        dtype: float32 on the CPU and bfloat16 on a GPU by default.
        size: Side of the matrices.
        repeats: Timed products (after one untimed warm-up).
    """
    device = torch.device(device)
    dtype = dtype or (torch.bfloat16 if device.type == 'cuda' else torch.float32)
    left = torch.randn(size, size, device=device, dtype=dtype)
    right = torch.randn(size, size, device=device, dtype=dtype)
    torch.mm(left, right)
    _sync(device)
    best = float('inf')
    for _ in range(repeats):
        began = time.perf_counter()
        torch.mm(left, right)
        _sync(device)
        best = min(best, time.perf_counter() - began)
    return 2 * size ** 3 / best / 1e9


def _precision(frames: torch.Tensor, autocast_dtype: Optional[torch.dtype]):
    """``torch.autocast`` to ``autocast_dtype`` on the frames' device, or nothing."""
    if autocast_dtype is None:
        return nullcontext()
    return torch.autocast(frames.device.type, dtype=autocast_dtype)


def _timed_pass(encoder: torch.nn.Module, frames: torch.Tensor, batch_size: int = 1,
                autocast_dtype: Optional[torch.dtype] = None) -> Tuple[float, torch.Tensor]:
    """Seconds for ``frames`` through ``encoder``, ``batch_size`` per call, and the embeddings."""
    began = time.perf_counter()
    with _precision(frames, autocast_dtype):
        outputs = torch.cat([encoder(frames[start:start + batch_size])
                             for start in range(0, len(frames), batch_size)])
    _sync(frames.device)
    return time.perf_counter() - began, outputs


def seconds_per_image(encoder: torch.nn.Module, frames: torch.Tensor, repeats: int = 1,
                      batch_size: int = 1, autocast_dtype: Optional[torch.dtype] = None
                      ) -> float:
    """Best-of-``repeats`` seconds per image of ``encoder`` over a batch of input frames.

    One untimed call first (kernel selection, allocator warm-up).

    Args:
        encoder: A SAM image encoder.
        frames: Input frames (N, 3, S, S) on the encoder's device.
        repeats: Timed passes over the frames.
        batch_size: Frames per encoder call.
        autocast_dtype: Run under ``torch.autocast`` to this dtype (e.g.
            ``torch.bfloat16``); ``None`` keeps the weights' dtype.
    """
    with torch.no_grad():
        with _precision(frames, autocast_dtype):
            encoder(frames[:batch_size])
        _sync(frames.device)
        best = min(_timed_pass(encoder, frames, batch_size, autocast_dtype)[0]
                   for _ in range(repeats))
    return best / len(frames)


def compare_fused_attention(encoder: torch.nn.Module, frames: torch.Tensor, repeats: int = 1,
                            batch_size: int = 1, autocast_dtype: Optional[torch.dtype] = None
                            ) -> Dict[str, float]:
    """Stock vs fused attention (:mod:`~epsam.models.sam.building.fused_attention`), same frames.

    Stock is ``segment_anything`` as shipped: float32, stock attention. The
    fused side runs under ``autocast_dtype`` where one is given. Both take
    ``batch_size`` frames per call. The two forwards alternate (one warm-up
    call each, then ``repeats`` timed passes of each, stock first), so
    machine load drifts onto both; the best pass of each counts. The encoder
    is left with stock attention.

    Args:
        encoder: A SAM image encoder (ViT or TinyViT).
        frames: Input frames (N, 3, S, S) on the encoder's device.
        repeats: Timed passes per forward.
        batch_size: Frames per encoder call, both sides.
        autocast_dtype: The fused side's autocast dtype (``None``: float32).

    Returns:
        ``stock_seconds_per_image``, ``fused_seconds_per_image``,
        ``speedup_vs_stock`` (stock / fused seconds) and ``max_abs_diff``
        (largest absolute embedding difference, fused vs stock float32,
        first pass; it includes the rounding of a lower precision).
    """
    best = {False: float('inf'), True: float('inf')}
    precision = {False: None, True: autocast_dtype}
    embeddings = {}
    with torch.no_grad():
        for fused in (False, True):
            use_fused_attention(encoder, fused)
            with _precision(frames, precision[fused]):
                encoder(frames[:batch_size])
        for _ in range(repeats):
            for fused in (False, True):
                use_fused_attention(encoder, fused)
                seconds, outputs = _timed_pass(encoder, frames, batch_size, precision[fused])
                best[fused] = min(best[fused], seconds)
                embeddings.setdefault(fused, outputs)
    use_fused_attention(encoder, False)
    diff = (embeddings[True].float() - embeddings[False].float()).abs().max().item()
    stock, fused = best[False] / len(frames), best[True] / len(frames)
    return dict(stock_seconds_per_image=stock, fused_seconds_per_image=fused,
                speedup_vs_stock=stock / fused, max_abs_diff=diff)


def load_average() -> Dict[str, float]:
    """The 1, 5 and 15 minute load averages (how busy the machine was), or empty."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return {}
    return {'1min': round(one, 2), '5min': round(five, 2), '15min': round(fifteen, 2)}


def sam_weights_note(variant: str) -> str:
    """What a benchmark's SAM weights are: the variant's bundled ones, or a random stand-in.

    Args:
        variant: A registered SAM variant, built with its default weights.
    """
    spec = get_sam_variant(variant)
    name = spec.display_name or spec.name
    if resolve_sam_weights(variant, None, True).is_stand_in:
        return f'random weights: stand-in {name}, speed does not depend on the values'
    return f'bundled {name} weights'

#!/usr/bin/env python
"""Seconds, FLOPs and fraction of the machine's matmul peak of SAM image encoders.

Example::

    python tools/benchmarks/sam_encoder_efficiency.py --variant tiny lite_medsam vit_b \
        --num-images 3 --fused --out work_dirs/benchmarks/sam_encoder_efficiency.json

For each variant, in one run: the encoder's FLOPs per image (FlopCounterMode,
2 x multiply-adds), seconds per image on ``--num-images`` random frames
(best of ``--repeats``, after a warm-up call), the achieved GFLOP/s and its
fraction of the machine's large-matmul peak (4096 x 4096, in the measured
path's precision: fp32 on the CPU, bf16 on a GPU by default) measured in the
same run. Weights are random (speed does not depend on their values). The
load average is recorded before and after: other jobs on the machine slow
every figure down.

With ``--fused`` each row also times the encoder with its attention run
through ``scaled_dot_product_attention`` (``epsam.models.sam.building.fused_attention``),
alternating with stock on the same frames: ``stock_seconds_per_image``,
``fused_seconds_per_image``, ``speedup_vs_stock`` and ``max_abs_diff`` (the
largest fp32 embedding difference, fused vs stock); ``seconds_per_image``,
``achieved_gflops`` and ``fraction_of_peak`` are then the fused path's. The
relative-position tables (zero at initialisation) are drawn at random, so the
difference covers the attention bias.

``--batch-size`` frames go through the encoder per call (both sides);
``--precision bf16`` runs the measured path under bfloat16 autocast (the
default on a GPU), while stock stays float32, so on a GPU the row reads
``python tools/benchmarks/sam_encoder_efficiency.py --variant vit_b
--device cuda --num-images 32 --batch-size 8 --fused``: bf16 fused attention
in batches of 8 against stock float32, the difference including bf16
rounding.
"""
import argparse
import os
from typing import Dict, List, Optional

import torch
from prettytable import PrettyTable, TableStyle

import epsam  # noqa: F401  (registries and mmcv fallbacks before mmseg)
from epsam.benchmarking.encoder_speed import (compare_fused_attention, encoder_flops,
                                              load_average, matmul_peak_gflops,
                                              seconds_per_image)
from epsam.benchmarking.memory import machine_info
from epsam.models.sam import build_sam, list_sam_variants
from epsam.models.sam.building.fused_attention import fused_attention_enabled, use_fused_attention
from epsam.models.sam.building.tiny_vit import refresh_attention_biases
from epsam.models.sam.building.variants import get_sam_variant
from epsam.fileio.atomic_io import atomic_write_json

#: ``--precision``: the autocast dtype of the measured path (``None``: float32).
PRECISIONS = {'fp32': None, 'bf16': torch.bfloat16}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--variant', nargs='+', default=['tiny', 'lite_medsam', 'vit_b'],
                        choices=list_sam_variants(), help='SAM variants to measure, in order')
    parser.add_argument('--num-images', type=int, default=3, help='timed images per variant')
    parser.add_argument('--repeats', type=int, default=1, help='timed passes (best is kept)')
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda'")
    parser.add_argument('--batch-size', type=int, default=1, help='frames per encoder call')
    parser.add_argument('--precision', choices=['auto', *sorted(PRECISIONS)], default='auto',
                        help='the measured path: float32, or bfloat16 autocast '
                        '(auto: fp32 on the CPU, bf16 on a GPU; stock stays fp32). '
                        'The peak is measured in the same precision: minutes on a CPU '
                        'without bf16 matrix kernels')
    parser.add_argument('--threads', type=int, default=0, help='torch threads (0: default)')
    parser.add_argument('--fused', action='store_true',
                        help='also time fused (SDPA) attention against stock on the same frames')
    parser.add_argument('--out', default=None, help='write the results as JSON here')
    args = parser.parse_args(argv)
    if args.num_images < 1 or args.repeats < 1 or args.batch_size < 1:
        parser.error('--num-images, --repeats and --batch-size must be >= 1')
    if args.precision == 'auto':
        args.precision = 'bf16' if args.device.startswith('cuda') else 'fp32'
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        parser.error(f'--device {args.device}: no CUDA device is available')
    return args


def randomise_position_tables(encoder: torch.nn.Module, std: float = 0.1) -> None:
    """Draw the attention's relative-position tables (ViT) and bias tables (TinyViT)."""
    with torch.no_grad():
        for name, param in encoder.named_parameters():
            if 'rel_pos' in name or 'attention_biases' in name:
                param.normal_(std=std)
    refresh_attention_biases(encoder)


def measure(variant: str, num_images: int, repeats: int, device: str, peak: float,
            fused: bool = False, batch_size: int = 1, precision: str = 'fp32') -> Dict:
    """One variant's row: GFLOP per image, seconds per image, GFLOP/s, fraction of peak.

    With ``fused``, also stock (float32) vs fused seconds, the speed-up and
    the max abs embedding difference; the speed figures are then the fused
    path's, at ``precision``.
    """
    torch.manual_seed(0)
    sam = build_sam(variant, pretrained=False).to(device).eval()
    randomise_position_tables(sam.image_encoder)
    size = get_sam_variant(variant).img_size
    frames = torch.randn(num_images, 3, size, size, device=device)
    comparison = {}
    if fused:
        comparison = compare_fused_attention(sam.image_encoder, frames, repeats, batch_size,
                                             PRECISIONS[precision])
        seconds = comparison['fused_seconds_per_image']
        use_fused_attention(sam.image_encoder)  # the path the speed figures are of
    else:
        seconds = seconds_per_image(sam.image_encoder, frames, repeats, batch_size,
                                    PRECISIONS[precision])
    gflops = encoder_flops(variant) / 1e9
    achieved = gflops / seconds
    return dict(variant=variant, img_size=size, batch_size=batch_size, precision=precision,
                attention='fused' if fused_attention_enabled(sam.image_encoder) else 'stock',
                params_millions=sum(p.numel() for p in sam.image_encoder.parameters()) / 1e6,
                gflops_per_image=gflops, seconds_per_image=seconds, achieved_gflops=achieved,
                matmul_peak_gflops=peak, fraction_of_peak=achieved / peak, **comparison)


def table(rows: List[Dict]) -> PrettyTable:
    fused = all('speedup_vs_stock' in row for row in rows)
    extra = ['s / image (stock)', 'speed-up vs stock', 'max abs diff'] if fused else []
    out = PrettyTable(['encoder', 'frame (px)', 'params (M)', 'GFLOP / image', 's / image',
                       'GFLOP/s', 'fraction of peak'] + extra)
    for row in rows:
        cells = [row['variant'], row['img_size'], f"{row['params_millions']:.2f}",
                 f"{row['gflops_per_image']:.1f}", f"{row['seconds_per_image']:.3f}",
                 f"{row['achieved_gflops']:.1f}", f"{row['fraction_of_peak']:.2f}"]
        if fused:
            cells += [f"{row['stock_seconds_per_image']:.3f}",
                      f"{row['speedup_vs_stock']:.2f}x", f"{row['max_abs_diff']:.1e}"]
        out.add_row(cells)
    return out


def main(argv: Optional[List[str]] = None) -> Dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = load_average()
    peak = matmul_peak_gflops(args.device, PRECISIONS[args.precision] or torch.float32)
    rows = [measure(name, args.num_images, args.repeats, args.device, peak, args.fused,
                    args.batch_size, args.precision)
            for name in args.variant]
    result = dict(rows=rows, matmul_peak_gflops=peak, batch_size=args.batch_size,
                  precision=args.precision, load_average_before=load_before,
                  load_average_after=load_average(), machine=machine_info(args.device),
                  num_images=args.num_images, repeats=args.repeats, fused=args.fused)
    printed = table(rows)
    printed.set_style(TableStyle.MARKDOWN)
    print(printed)
    print(f'{args.precision}, {args.batch_size} frame(s) per call; '
          f'matmul peak: {peak:.1f} GFLOP/s; load average before {load_before}, '
          f"after {result['load_average_after']}")
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        atomic_write_json(args.out, result)
        print(f'written: {args.out}')
    return result


if __name__ == '__main__':
    main()

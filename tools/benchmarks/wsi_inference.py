#!/usr/bin/env python
"""Speed of stitched whole-slide inference on CPU against slide area.

For each size, a synthetic slide (white glass, a tissue rectangle over 60 %
of the area, a tumour patch) is written as a pyramidal TIFF and run through
the whole pipeline of ``tools/wsi/infer.py``: tissue detection, tiling,
the tiny CAM classifier (``configs/_base_/models/adl_resnet18_cam_tiny.py``,
random weights: speed does not depend on the weights' values), caching,
stitching and writing the outputs. Prints one row per slide: area, tiles,
seconds (total and prediction only) and tiles per second. ``--slide`` runs a
real slide instead, and ``--workers`` compares tile-reading thread counts:
for each, the tiles are first only read (reading tiles/s), then run through
the pipeline.

Examples::

    nice -n 5 python tools/benchmarks/wsi_inference.py --sizes 1024 2048 4096 --threads 1
    python tools/benchmarks/wsi_inference.py --slide cmu_small_region.svs --workers 1 4
"""
import argparse
import os
import platform
import shlex
import sys
import tempfile
import time

import torch

import epsam  # noqa: F401  (mmcv op fallback before mmseg)
from epsam.wsi import (CAMTilePredictor, SlideStitcher, TileCache, TissueDetector, open_slide,
                       plan_tiles, predict_tiles, stitch_cached_tiles, tile_layout,
                       write_slide_outputs)
from epsam.wsi.synthetic import synthetic_slide_image, write_pyramidal_slide
from epsam.wsi.tiling import iter_tile_batches

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY_CFG = os.path.join(REPO_ROOT, 'configs/_base_/models/adl_resnet18_cam_tiny.py')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[1024, 2048, 4096],
                        help='level-0 side of each synthetic (square) slide, in pixels')
    parser.add_argument('--tile-size', type=int, default=128, help='tile side (level 0)')
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--threads', type=int, default=1, help='torch CPU threads')
    parser.add_argument('--work-dir', help='where slides and outputs go (default: a temp dir)')
    parser.add_argument('--slide', help='a real slide to run instead of the synthetic ones')
    parser.add_argument('--workers', type=int, nargs='+', default=[4],
                        help='tile-reading threads (one row per value)')
    return parser.parse_args(argv)


def synthetic_slide(size: int, work_dir: str) -> str:
    """Write a synthetic ``size`` x ``size`` slide (tissue over ~60 %) and return its path."""
    slide = os.path.join(work_dir, f'slide_{size}.tif')
    margin = int(size * 0.113)  # tissue: (1 - 2 * 0.113)^2 ~ 60 % of the area
    write_pyramidal_slide(slide, synthetic_slide_image(
        (size, size), (margin, margin, size - 2 * margin, size - 2 * margin),
        (size // 3, size // 3, size // 6, size // 6)), levels=3)
    return slide


def run_one(slide: str, tile_size: int, batch_size: int, predictor, work_dir: str,
            workers: int) -> dict:
    """Time tile reading alone, then the whole pipeline, on one slide."""
    name = f'{os.path.splitext(os.path.basename(slide))[0]}_w{workers}'
    out = os.path.join(work_dir, f'out_{name}')
    start = time.perf_counter()
    with open_slide(slide) as reader:
        layout = tile_layout(reader, tile_size, level=0)
        tissue = TissueDetector()(reader)
        tiles = plan_tiles(reader, layout, tissue, min_tissue=0.1, cover_edges=True)
        read_start = time.perf_counter()
        for _ in iter_tile_batches(reader, layout, tiles, batch_size, workers):
            pass
        read_seconds = time.perf_counter() - read_start
        out_level = min(1, reader.level_count - 1)
        stitcher = SlideStitcher(reader.dimensions, reader.level_downsamples[out_level],
                                 reader.level_dimensions[out_level])
        cache = TileCache(os.path.join(out, 'tiles'), dict(slide=slide))
        cache.prepare(write=True)
        predict_start = time.perf_counter()
        predict_tiles(reader, layout, tiles, predictor, stitcher, cache,
                      batch_size=batch_size, progress=False, workers=workers)
        predict_seconds = time.perf_counter() - predict_start
        stitch_cached_tiles(tiles, layout, stitcher, cache)
        write_slide_outputs(out, name, reader, stitcher, 0.5, {}, tissue=tissue)
        width, height = reader.dimensions
    total = time.perf_counter() - start - read_seconds
    return dict(size=f'{width}x{height}', area_mpx=width * height / 1e6, tiles=len(tiles),
                seconds=total, predict_seconds=predict_seconds, tiles_per_s=len(tiles) / total,
                read_tiles_per_s=len(tiles) / read_seconds, workers=workers)


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    predictor = CAMTilePredictor.from_config(TINY_CFG, None, batch_size=args.batch_size)
    print(f'command: python tools/benchmarks/wsi_inference.py '
          f'{shlex.join(sys.argv[1:] if argv is None else argv)}')
    print(f'machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, '
          f'torch {torch.__version__}, {args.threads} thread(s); tile {args.tile_size} px at '
          f'level 0, batch {args.batch_size}, tiny CAM classifier; load average before: '
          f'{open("/proc/loadavg").read().strip()}')
    header = f'{"slide (px)":>12} {"area (Mpx)":>10} {"tiles":>6} {"workers":>7} ' \
             f'{"read tiles/s":>12} {"total (s)":>9} {"predict (s)":>11} {"tiles/s":>8}'
    print(header)
    with tempfile.TemporaryDirectory(dir=args.work_dir) as work_dir:
        slides = [args.slide] if args.slide else [synthetic_slide(s, work_dir) for s in args.sizes]
        for slide in slides:
            for workers in args.workers:
                row = run_one(slide, args.tile_size, args.batch_size, predictor, work_dir,
                              workers)
                print(f'{row["size"]:>12} {row["area_mpx"]:>10.2f} {row["tiles"]:>6} '
                      f'{workers:>7} {row["read_tiles_per_s"]:>12.1f} {row["seconds"]:>9.2f} '
                      f'{row["predict_seconds"]:>11.2f} {row["tiles_per_s"]:>8.1f}', flush=True)
    print(f'load average after: {open("/proc/loadavg").read().strip()}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

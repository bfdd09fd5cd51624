"""Stitched whole-slide inference with a tile predictor (CAM classifier or CAM-prompted SAM).

Example:

    python tools/wsi/infer.py tumor_001.tif --config configs/.../classifier.py \\
        --checkpoint work_dirs/cls/epoch_20.pth --out results/wsi --level 0 --tile-size 512

    # 4 CPU ranks (gloo) or GPUs share the tiles; rank 0 stitches:
    torchrun --nproc_per_node 4 tools/wsi/infer.py SLIDE ... --launcher pytorch

Writes ``{out}/{slide}_heatmap.png``, ``_mask.tif`` (pyramidal label mask),
``_tumour.geojson`` (QuPath), ``_tissue.png`` and, last, ``_summary.json``.
Per-tile maps are cached in ``{out}/tiles/{slide}/``; a rerun predicts only
the missing tiles.
"""
import argparse
import os
import sys
import time

#: --prompt choices of the SAM tile predictor (epsam.prompts.PROMPT_PRESETS).
TILE_PROMPTS = ('boxes', 'points', 'both')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('slide', help='whole-slide image')
    parser.add_argument('--config', required=True, help='classifier config (CAMClassifier)')
    parser.add_argument('--checkpoint', required=True, help='classifier checkpoint')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--predictor', choices=('cam', 'sam'), default='cam',
                        help='cam: CAM x classifier score; sam: CAM prompts into SAM')
    parser.add_argument('--prompt', choices=TILE_PROMPTS, default='boxes',
                        help='SAM prompts from the CAM mask (--predictor sam): boxes (one per '
                        'connected component, as LiteMedSAM was trained), points (EP-SAM\'s '
                        '50 CAM-weighted points) or both')
    parser.add_argument('--sam-checkpoint',
                        help='SAM weights (--predictor sam); lite_medsam needs none (bundled)')
    parser.add_argument('--sam-variant', default='lite_medsam',
                        help='SAM variant (--predictor sam): lite_medsam (bundled weights), '
                        'mobile_sam, vit_b, vit_l, vit_h')
    parser.add_argument('--tile-size', type=int, default=512, help='tile side in pixels')
    where = parser.add_mutually_exclusive_group()
    where.add_argument('--level', type=int, help='pyramid level of the tiles (default 0)')
    where.add_argument('--mpp', type=float, help='tile resolution in microns per pixel')
    parser.add_argument('--stride', type=int, help='step between tiles in pixels (default: '
                        'the tile size; smaller overlaps and blends)')
    parser.add_argument('--min-tissue', type=float, default=0.1,
                        help='smallest tissue fraction of a predicted tile')
    parser.add_argument('--output-level', type=int, help='level of the stitched outputs '
                        '(default: the coarsest with downsample <= 16 x the tile downsample)')
    parser.add_argument('--window', choices=('hann', 'uniform'), default='hann',
                        help='blending window of overlapping tiles')
    parser.add_argument('--threshold', type=float, default=0.5, help='tumour probability')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--device', default=None, help='cpu, cuda, cuda:1 (default: cuda when '
                        'available, the local rank under torchrun)')
    parser.add_argument('--slide-mpp', type=float, help='microns per level-0 pixel, for slides '
                        'without that metadata')
    parser.add_argument('--backend', default='auto', choices=('auto', 'openslide', 'tiffslide'))
    parser.add_argument('--launcher', choices=('none', 'pytorch'), default='none')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    return parser.parse_args(argv)


def setup_distributed(launcher: str, device):
    """(rank, world size, barrier, device) for this process."""
    import torch
    import torch.distributed as dist

    from epsam.engine.config_utils import init_cpu_distributed
    if launcher == 'none':
        device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
        return 0, 1, (lambda: None), device
    init_cpu_distributed(launcher)
    if not dist.is_initialized():
        local_rank = int(os.environ.get('LOCAL_RANK', 0))
        torch.cuda.set_device(local_rank)
        dist.init_process_group(backend='nccl')
        device = device or f'cuda:{local_rank}'
    return dist.get_rank(), dist.get_world_size(), dist.barrier, device or 'cpu'


def build_predictor(args, device):
    from epsam.prompts import prompt_preset
    from epsam.wsi import CAMTilePredictor, SamTilePredictor
    if args.predictor == 'cam':
        return CAMTilePredictor.from_config(args.config, args.checkpoint,
                                            batch_size=args.batch_size, device=device)
    from epsam.models.sam.builder import resolve_sam_weights
    if resolve_sam_weights(args.sam_variant, args.sam_checkpoint).is_stand_in:
        raise ValueError(f'--predictor sam with --sam-variant {args.sam_variant} needs '
                         '--sam-checkpoint (only lite_medsam ships its weights)')
    return SamTilePredictor.from_files(args.config, args.checkpoint, args.sam_variant,
                                       args.sam_checkpoint, batch_size=args.batch_size,
                                       device=device, prompt_generator=prompt_preset(args.prompt))


def fingerprint(args, layout) -> dict:
    from epsam.wsi import tiling_fingerprint

    def file_id(path):
        return None if path is None else dict(path=os.path.abspath(path),
                                              bytes=os.path.getsize(path),
                                              mtime=int(os.path.getmtime(path)))

    return tiling_fingerprint(layout, slide=file_id(args.slide), config=file_id(args.config),
                              checkpoint=file_id(args.checkpoint), predictor=args.predictor,
                              sam=dict(variant=args.sam_variant, prompt=args.prompt,
                                       weights=file_id(args.sam_checkpoint))
                              if args.predictor == 'sam' else None,
                              output_level=args.output_level)


def run(args) -> dict:
    from epsam.wsi import (SlideStitcher, TileCache, TissueDetector, open_slide, plan_tiles,
                           predict_tiles, save_tissue_thumbnail, stitch_cached_tiles, tile_layout,
                           write_slide_outputs)
    rank, world_size, barrier, device = setup_distributed(args.launcher, args.device)
    name = os.path.splitext(os.path.basename(args.slide))[0]
    start = time.perf_counter()
    with open_slide(args.slide, backend=args.backend, mpp=args.slide_mpp) as reader:
        layout = tile_layout(reader, args.tile_size, level=args.level, mpp=args.mpp,
                             stride=args.stride)
        if args.output_level is None:
            args.output_level = reader.level_for_downsample(16 * layout.downsample)
        out_level = reader.check_level(args.output_level)
        stitcher = SlideStitcher(reader.dimensions, reader.level_downsamples[out_level],
                                 output_size=reader.level_dimensions[out_level],
                                 window=args.window)
        predictor = build_predictor(args, device)
        tissue = TissueDetector()(reader)
        tiles = plan_tiles(reader, layout, tissue, min_tissue=args.min_tissue, cover_edges=True)
        cache = TileCache(os.path.join(args.out, 'tiles', name), fingerprint(args, layout))
        if rank == 0:
            cache.prepare(write=True)
        barrier()
        cache.prepare(write=False)
        predicted = predict_tiles(reader, layout, tiles, predictor, stitcher, cache,
                                  batch_size=args.batch_size, rank=rank,
                                  world_size=world_size, progress=not args.no_progress)
        barrier()
        if rank != 0:
            return {}
        save_tissue_thumbnail(os.path.join(args.out, f'{name}_tissue.png'), reader, tissue)
        stitch_cached_tiles(tiles, layout, stitcher, cache)
        summary = dict(slide=os.path.abspath(args.slide), predictor=args.predictor,
                       config=args.config, checkpoint=args.checkpoint,
                       status='ok' if tiles else 'no_tissue',
                       tissue_fraction=tissue.area_fraction, tiles=len(tiles),
                       tiles_predicted_this_run=predicted, world_size=world_size,
                       tile_level=layout.level, tile_size=layout.size, tile_extent=layout.extent,
                       stride=layout.stride, output_level=out_level,
                       seconds=round(time.perf_counter() - start, 3))
        return write_slide_outputs(args.out, name, reader, stitcher, args.threshold, summary)


def main(argv=None) -> int:
    args = parse_args(argv)
    import epsam  # noqa: F401  (mmcv op fallback before mmseg)
    from epsam.wsi import WSIError
    try:
        summary = run(args)
    except (WSIError, ValueError, ImportError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    finally:
        import torch.distributed as dist
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    if summary:
        if summary['status'] == 'no_tissue':
            print(f'{args.slide}: no tissue found; wrote an empty result')
        print(f'\n{os.path.basename(args.slide)}: {summary["tiles"]} tiles, '
              f'{summary["tumour_polygons"]} tumour polygon(s), outputs in {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""Stitched whole-slide inference with a tile predictor (CAM classifier or CAM-prompted SAM).

Example:

    python tools/wsi/infer.py configs/.../classifier.py work_dirs/cls/epoch_20.pth \\
        tumor_001.tif tumor_002.tif --out results/wsi --level 0 --tile-size 512

    # 4 CPU ranks (gloo) or GPUs share the tiles; rank 0 stitches:
    torchrun --nproc_per_node 4 tools/wsi/infer.py CONFIG CHECKPOINT SLIDE ... --launcher pytorch

Writes ``{out}/{slide}_heatmap.png``, ``_mask.tif`` (pyramidal label mask),
``_tumour.geojson`` (QuPath), ``_tissue.png`` and, last, ``_summary.json``
for each slide. Predictions off the tissue mask (glass) are dropped; holes
under ``--min-hole`` are filled and regions under ``--min-area`` (µm²) removed.
Per-tile maps are cached in ``{out}/tiles/{slide}/``; a rerun predicts only
the missing tiles.
"""
import argparse
import os
import sys
import time
import warnings

from epsam.engine.config_utils import (add_device_argument, add_launcher_arguments,
                                       default_device, init_distributed)
from epsam.utils.cli import (DefaultsHelpFormatter, add_debug_argument, report_user_error,
                             run_tool)

#: --prompt choices of the SAM tile predictor (epsam.prompts.PROMPT_PRESETS).
TILE_PROMPTS = ('boxes', 'points', 'both')
USAGE = '%(prog)s CONFIG CHECKPOINT SLIDE [SLIDE ...] --out OUT [options]'


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('config', help='classifier config (CAMClassifier)')
    parser.add_argument('checkpoint', nargs='?', help='classifier checkpoint')
    parser.add_argument('slides', nargs='*', metavar='SLIDE', help='whole-slide image(s)')
    parser.add_argument('--config', dest='legacy_config', metavar='CONFIG',
                        help='deprecated: give CONFIG as the first positional')
    parser.add_argument('--checkpoint', dest='legacy_checkpoint', metavar='CHECKPOINT',
                        help='deprecated: give CHECKPOINT as the second positional')
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


def _add_output_arguments(parser: argparse.ArgumentParser) -> None:
    from epsam.wsi.postprocess import DEFAULT_MIN_AREA_UM2, DEFAULT_MIN_HOLE_UM2
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--output-level', type=int, help='level of the stitched outputs '
                        '(default: the coarsest with downsample <= 16 x the tile downsample)')
    parser.add_argument('--window', choices=('hann', 'uniform'), default='hann',
                        help='blending window of overlapping tiles')
    parser.add_argument('--threshold', type=float, default=0.5, help='tumour probability')
    parser.add_argument('--min-area', type=float, default=DEFAULT_MIN_AREA_UM2,
                        help='remove tumour regions smaller than this, in µm² (needs the '
                        'slide\'s mpp or --slide-mpp; 0 keeps every region)')
    parser.add_argument('--min-hole', type=float, default=DEFAULT_MIN_HOLE_UM2,
                        help='fill holes in tumour regions smaller than this, in µm² (0 = none)')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0], usage=USAGE,
                                     formatter_class=DefaultsHelpFormatter)
    _add_model_arguments(parser)
    _add_output_arguments(parser)
    parser.add_argument('--tile-size', type=int, default=512, help='tile side in pixels')
    where = parser.add_mutually_exclusive_group()
    where.add_argument('--level', type=int, help='pyramid level of the tiles (default 0)')
    where.add_argument('--mpp', type=float, help='tile resolution in microns per pixel')
    parser.add_argument('--stride', type=int, help='step between tiles in pixels (default: '
                        'the tile size; smaller overlaps and blends)')
    parser.add_argument('--min-tissue', type=float, default=0.1,
                        help='smallest tissue fraction of a predicted tile')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--workers', type=int, default=4,
                        help='threads reading tiles ahead of the model (1 = in turn)')
    add_device_argument(parser)
    parser.add_argument('--slide-mpp', type=float, help='microns per level-0 pixel, for slides '
                        'without that metadata')
    parser.add_argument('--backend', default='auto', choices=('auto', 'openslide', 'tiffslide'))
    add_launcher_arguments(parser)
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    _resolve_positionals(parser, args)
    return args


def _resolve_positionals(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """CONFIG CHECKPOINT SLIDE...; the old ``SLIDE --config C --checkpoint K`` still works."""
    legacy = args.legacy_config is not None or args.legacy_checkpoint is not None
    if legacy:
        if args.legacy_config is None or args.legacy_checkpoint is None:
            parser.error('the deprecated --config and --checkpoint go together')
        warnings.warn('tools/wsi/infer.py: --config/--checkpoint are deprecated; use '
                      'infer.py CONFIG CHECKPOINT SLIDE... --out OUT', DeprecationWarning,
                      stacklevel=2)
        print('warning: --config/--checkpoint are deprecated; use '
              'infer.py CONFIG CHECKPOINT SLIDE... --out OUT', file=sys.stderr)
        slides = [args.config] + [a for a in [args.checkpoint] if a] + args.slides
        args.config, args.checkpoint, args.slides = (args.legacy_config,
                                                     args.legacy_checkpoint, slides)
    elif args.checkpoint is None or not args.slides:
        parser.error('give CONFIG CHECKPOINT and at least one SLIDE')


def setup_distributed(launcher: str, device):
    """(rank, world size, barrier, device) for this process."""
    import torch.distributed as dist
    rank, world_size = init_distributed(launcher)
    barrier = dist.barrier if world_size > 1 else (lambda: None)
    return rank, world_size, barrier, default_device(device)


def build_predictor(args, device):
    from epsam.prompts import prompt_preset
    from epsam.wsi import CAMTilePredictor, SamTilePredictor
    if args.predictor == 'cam':
        return CAMTilePredictor.from_config(args.config, args.checkpoint,
                                            batch_size=args.batch_size, device=device)
    from epsam.models.sam.building.builder import resolve_sam_weights
    if resolve_sam_weights(args.sam_variant, args.sam_checkpoint).is_stand_in:
        raise ValueError(f'--predictor sam with --sam-variant {args.sam_variant} needs '
                         '--sam-checkpoint (only lite_medsam ships its weights)')
    return SamTilePredictor.from_files(args.config, args.checkpoint, args.sam_variant,
                                       args.sam_checkpoint, batch_size=args.batch_size,
                                       device=device, prompt_generator=prompt_preset(args.prompt))


def fingerprint(args, slide: str, layout, output_level: int) -> dict:
    from epsam.wsi import tiling_fingerprint

    def file_id(path):
        return None if path is None else dict(path=os.path.abspath(path),
                                              bytes=os.path.getsize(path),
                                              mtime=int(os.path.getmtime(path)))

    return tiling_fingerprint(layout, slide=file_id(slide), config=file_id(args.config),
                              checkpoint=file_id(args.checkpoint), predictor=args.predictor,
                              sam=dict(variant=args.sam_variant, prompt=args.prompt,
                                       weights=file_id(args.sam_checkpoint))
                              if args.predictor == 'sam' else None,
                              output_level=output_level)


def run_slide(args, slide: str, predictor, rank: int, world_size: int, barrier) -> dict:
    """Predict, stitch and write one slide; rank 0 returns its summary, others ``{}``."""
    from epsam.wsi import (SlideStitcher, TileCache, TissueDetector, open_slide, plan_tiles,
                           predict_tiles, save_tissue_thumbnail, stitch_cached_tiles, tile_layout,
                           write_slide_outputs)
    from epsam.wsi.postprocess import MaskCleaning
    cleaning = MaskCleaning(args.min_area, args.min_hole)
    name = os.path.splitext(os.path.basename(slide))[0]
    start = time.perf_counter()
    with open_slide(slide, backend=args.backend, mpp=args.slide_mpp) as reader:
        cleaning.check_mpp(slide, reader.mpp)
        layout = tile_layout(reader, args.tile_size, level=args.level, mpp=args.mpp,
                             stride=args.stride)
        out_level = reader.check_level(reader.level_for_downsample(16 * layout.downsample)
                                       if args.output_level is None else args.output_level)
        stitcher = SlideStitcher(reader.dimensions, reader.level_downsamples[out_level],
                                 output_size=reader.level_dimensions[out_level],
                                 window=args.window)
        tissue = TissueDetector()(reader)
        tiles = plan_tiles(reader, layout, tissue, min_tissue=args.min_tissue, cover_edges=True)
        cache = TileCache(os.path.join(args.out, 'tiles', name),
                          fingerprint(args, slide, layout, out_level))
        if rank == 0:
            cache.prepare(write=True)
        barrier()
        cache.prepare(write=False)
        predicted = predict_tiles(reader, layout, tiles, predictor, stitcher, cache,
                                  batch_size=args.batch_size, rank=rank, world_size=world_size,
                                  progress=not args.no_progress, workers=args.workers)
        barrier()
        if rank != 0:
            return {}
        save_tissue_thumbnail(os.path.join(args.out, f'{name}_tissue.png'), reader, tissue)
        stitch_cached_tiles(tiles, layout, stitcher, cache)
        summary = dict(slide=os.path.abspath(slide), predictor=args.predictor,
                       config=args.config, checkpoint=args.checkpoint,
                       status='ok' if tiles else 'no_tissue',
                       tissue_fraction=tissue.area_fraction, tiles=len(tiles),
                       tiles_predicted_this_run=predicted, world_size=world_size,
                       tile_level=layout.level, tile_size=layout.size, tile_extent=layout.extent,
                       stride=layout.stride, output_level=out_level,
                       seconds=round(time.perf_counter() - start, 3))
        return write_slide_outputs(args.out, name, reader, stitcher, args.threshold, summary,
                                   tissue=tissue, cleaning=cleaning)


def run(args) -> list:
    """Run every slide of ``args.slides`` (stops at the first error); the summaries of rank 0."""
    from epsam.wsi import SlideReadError
    missing = [s for s in args.slides if not os.path.isfile(s)]
    if missing:
        raise SlideReadError(missing[0], f'does not exist or is not a file ({len(missing)} of '
                             f'{len(args.slides)} slides are missing)')
    rank, world_size, barrier, device = setup_distributed(args.launcher, args.device)
    predictor = build_predictor(args, device)
    return [run_slide(args, slide, predictor, rank, world_size, barrier)
            for slide in args.slides]


def main(argv=None) -> int:
    args = parse_args(argv)
    import epsam  # noqa: F401  (mmcv op fallback before mmseg)
    from epsam.wsi import WSIError
    try:
        summaries = run(args)
    except (WSIError, ValueError, ImportError) as error:
        return report_user_error(error, argv)  # run_tool then closes the process group
    for slide, summary in zip(args.slides, summaries):
        if not summary:
            continue
        if summary['status'] == 'no_tissue':
            print(f'{slide}: no tissue found; wrote an empty result')
        print(f'{os.path.basename(slide)}: {summary["tiles"]} tiles, '
              f'{summary["tumour_polygons"]} tumour polygon(s), outputs in {args.out}')
    return 0


if __name__ == '__main__':
    run_tool(main)

"""EP-SAM step 2: CAMs and initial masks of a split from a trained patch classifier.

Examples::

    python tools/generate_cams.py CONFIG CHECKPOINT --out work_dirs/cams/train --split train
    python tools/generate_cams.py CONFIG CHECKPOINT --out OUT --cam-method gradcam --no-tta
    torchrun --nproc_per_node=2 tools/generate_cams.py CONFIG CHECKPOINT --out OUT \\
        --launcher pytorch

Writes ``OUT/cams/{stem}.npz``, ``OUT/masks/{stem}.png``, ``OUT/records/``,
``OUT/summary.json`` (see docs/architecture.md) and, with ``--vis N``, N
picture grids in ``OUT/vis/``. The defaults come from the config's
``cam_cfg = dict(method=..., mask_maker=..., batch_size=..., only_positive=...)``.
A rerun into the same folder skips finished images. The checkpoint is loaded
with ``torch.load(weights_only=True)``. ``OUT/.epsam.lock`` (held by rank 0)
refuses a second run into the same folder while this one writes.
"""
import argparse
import contextlib
import os
import os.path as osp

from mmengine.config import Config
from mmengine.registry import init_default_scope

import epsam  # noqa: F401  (installs the mmcv-lite op fallback first)
from epsam.apis import init_model, load_config
from epsam.cams.generation import generate_cams
from epsam.cams.recipe import CAM_METHOD_TYPES, cam_recipe, split_dataset_config
from epsam.engine.checkpoint_loading import CheckpointError
from epsam.engine.config_utils import (add_device_argument, add_launch_arguments, default_device,
                                       init_distributed)
from epsam.fileio.errors import DatasetFilesError, EmptySplitError
from epsam.registry import DATASETS
from epsam.utils.cli import DefaultsHelpFormatter, ToolError, add_debug_argument, run_tool
from epsam.utils.work_dir_lock import WorkDirBusyError, WorkDirLock


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Generate CAMs and initial masks (EP-SAM step 2).',
                                     formatter_class=DefaultsHelpFormatter)
    parser.add_argument('config', help='classifier config (with cam_cfg)')
    parser.add_argument('checkpoint', help='classifier checkpoint (loaded with weights_only=True)')
    parser.add_argument('--out', required=True, help='output folder for this split')
    parser.add_argument('--split', choices=['train', 'val', 'test'], default='train',
                        help='dataset split of the config (default: train, the split step 5 '
                        'pseudo-labels)')
    parser.add_argument('--cam-method', choices=sorted(CAM_METHOD_TYPES),
                        help='replace the CAM method of cam_cfg (TTA kept unless --no-tta)')
    parser.add_argument('--no-tta', action='store_true', help='no test-time augmentation')
    parser.add_argument('--batch-size', type=int, help='images per forward pass')
    parser.add_argument('--label-source', choices=['label', 'prediction'],
                        help="positive images by their image label or the classifier's score")
    parser.add_argument('--all-images', action='store_true',
                        help='masks for every image, not only positive ones')
    parser.add_argument('--vis', type=int, default=0, metavar='N',
                        help='write N picture grids to OUT/vis')
    add_device_argument(parser)
    add_launch_arguments(parser)
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    if args.batch_size is not None and args.batch_size < 1:
        parser.error(f'--batch-size must be >= 1, got {args.batch_size}')
    if args.vis < 0:
        parser.error(f'--vis must be >= 0, got {args.vis}')
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def cam_settings(cfg: Config, args) -> dict:
    """``cam_cfg`` of the config (or EP-SAM's defaults) with the command-line overrides."""
    return cam_recipe(cfg, cam_method=args.cam_method, no_tta=args.no_tta,
                      batch_size=args.batch_size, label_source=args.label_source,
                      all_images=args.all_images)


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, args.checkpoint)
    init_default_scope(cfg.get('default_scope', 'epsam'))
    settings = cam_settings(cfg, args)
    try:
        rank, world_size = init_distributed(args.launcher)
    except ValueError as err:
        raise ToolError(str(err)) from None
    try:
        with WorkDirLock(args.out) if rank == 0 else contextlib.nullcontext():
            return generate(args, cfg, settings, rank, world_size)
    except WorkDirBusyError as err:
        raise ToolError(str(err)) from None


def generate(args, cfg: Config, settings: dict, rank: int, world_size: int) -> dict:
    """Build the dataset and model, write the CAMs of this rank; the summary (rank 0)."""
    device = default_device(args.device)

    try:
        dataset_cfg = split_dataset_config(cfg, args.split)
    except KeyError as err:
        raise ToolError(err.args[0]) from None
    try:
        dataset = DATASETS.build(dataset_cfg)
    except (EmptySplitError, DatasetFilesError) as err:
        raise ToolError(f'the {args.split} split cannot be read: {err}') from None
    try:
        model = init_model(cfg, args.checkpoint, what='classifier')
    except CheckpointError as err:
        raise ToolError(str(err)) from None
    try:
        report = generate_cams(
            model, dataset, args.out, cam_method=settings['method'],
            mask_maker=settings['mask_maker'], batch_size=int(settings['batch_size']),
            only_positive=bool(settings['only_positive']),
            label_source=settings['label_source'],
            positive_threshold=settings.get('positive_threshold'), device=device, rank=rank,
            world_size=world_size, progress=True, visualize=args.vis,
            checkpoint=osp.abspath(args.checkpoint))
    except OSError as err:  # e.g. a full disk; finished items are kept, a rerun resumes
        raise ToolError(f'cannot write the outputs: {err}') from None
    print(f'\n{report}')
    summary = report.summary
    if world_size > 1:
        import torch.distributed as dist
        dist.barrier()
        if rank == 0 and summary is None:
            # Every rank has finished: a rerun only checks files and writes the summary.
            summary = generate_cams(
                model, dataset, args.out, cam_method=settings['method'],
                mask_maker=settings['mask_maker'], batch_size=int(settings['batch_size']),
                only_positive=bool(settings['only_positive']),
                label_source=settings['label_source'],
                positive_threshold=settings.get('positive_threshold'), device=device,
                progress=False, checkpoint=osp.abspath(args.checkpoint)).summary
        dist.barrier()
    if rank == 0 and summary is not None:
        counts = {key: summary[key] for key in ('images', 'positives', 'masked', 'empty_cams',
                                                'empty_masks')}
        print(f'summary: {counts} -> {osp.join(args.out, "summary.json")}')
    return summary or {}


if __name__ == '__main__':
    run_tool(main)

"""Run the whole EP-SAM protocol from one pipeline config, resuming where it stopped.

Example::

    python tools/run_pipeline.py \\
        configs/epsam/epsam-pipeline_r18tiny-cam_sam-tiny-decoder_3iter_synthetic-camelyon-128x128.py
    python tools/run_pipeline.py CONFIG --sam-checkpoint checkpoints/sam_vit_b_01ec64.pth \\
        --cfg-options sam.variant=vit_b
    bash tools/dist_pipeline.sh CONFIG 4          # torchrun, 4 processes (GPUs or CPU/gloo)
    bash tools/slurm_pipeline.sh PARTITION epsam CONFIG 8   # Slurm, 8 GPUs

Every stage writes its own folder under the work dir; rerunning the same
command after an interruption skips finished stages and finished items.
Before anything runs, the config is checked (unknown keys, SAM settings,
paths), the work dir is locked (``W/.epsam.lock``: a second run into it is
refused), and finished stages made with other settings or data are refused
with the changed items named; ``--restart-from STAGE`` redoes that stage and
every later one (their old folders are moved aside to ``STAGE.old-{time}``).

With ``--launcher pytorch|slurm|mpi`` every rank runs the pipeline: the
trainings under DDP, CAMs, pseudo-labels and evaluation sharded by rank with
the outputs of one process; rank 0 locks, checks and records (docs/distributed.md).
"""
import argparse
import os.path as osp

import epsam  # noqa: F401  (installs the mmcv-lite op fallback first)
from epsam.engine.config_utils import (add_device_argument, add_launcher_arguments,
                                       default_device, export_local_rank, load_tool_config)
from epsam.pipeline import USER_ERRORS, EPSAMPipeline
from epsam.pipeline.stage_names import EVALUATION_STAGE, STAGE_NAMES_HELP
from epsam.utils.cli import DefaultsHelpFormatter, ToolError, add_debug_argument, run_tool  # noqa: E501
from epsam.utils.registry_hints import explain_unknown_types
from mmengine.config import Config, DictAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Run (or resume) the EP-SAM pipeline.',
                                     formatter_class=DefaultsHelpFormatter)
    parser.add_argument('config', help='pipeline config (configs/epsam/epsam-pipeline_*.py)')
    parser.add_argument('--work-dir', help='default: work_dirs/{config name}')
    parser.add_argument('--sam-checkpoint',
                        help='official SAM checkpoint (e.g. sam_vit_b_01ec64.pth); without it '
                        'SAM is a randomly initialised stand-in and every output says so')
    add_device_argument(parser)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override pipeline settings, e.g. iterations=1')
    parser.add_argument('--restart-from', metavar='STAGE',
                        help='redo this stage and every later one; their old folders are '
                        f'moved aside to STAGE.old-TIME. Stages: {STAGE_NAMES_HELP}')
    add_launcher_arguments(parser)
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    export_local_rank(args)
    return args


def build_config(args) -> Config:
    cfg = load_tool_config(args.config, args.cfg_options)
    if args.sam_checkpoint:
        if not osp.isfile(args.sam_checkpoint):
            raise ToolError(f'{args.sam_checkpoint}: SAM checkpoint not found; check the '
                            'path given to --sam-checkpoint')
        cfg.sam.checkpoint = args.sam_checkpoint
    return cfg


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = build_config(args)
    work_dir = args.work_dir or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    try:
        with explain_unknown_types():
            pipeline = EPSAMPipeline(cfg, work_dir, device=default_device(args.device),
                                     restart_from=args.restart_from, launcher=args.launcher)
            result = pipeline.run()
    except USER_ERRORS as err:
        raise ToolError(str(err)) from None
    except ValueError as err:
        if 'launcher' not in str(err):
            raise
        raise ToolError(str(err)) from None  # e.g. --launcher slurm without GPUs
    if pipeline.ranks.is_main:
        print(f"Results: {osp.join(work_dir, EVALUATION_STAGE, 'results.md')}")
    return result


if __name__ == '__main__':
    run_tool(main)

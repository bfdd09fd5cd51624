"""Train a model from a config, as mmsegmentation's ``tools/train.py``.

Example::

    python tools/train.py configs/adl_cam/<config>.py --work-dir work_dirs/run1
    python tools/train.py CONFIG --resume            # continue from the last checkpoint
    torchrun --nproc_per_node=2 tools/train.py CONFIG --launcher pytorch
"""
import argparse

import epsam  # noqa: F401  (installs the mmcv-lite op fallback first)
from epsam.engine.config_utils import (add_launch_arguments, apply_launcher,
                                       enable_amp, ensure_training_hooks, export_local_rank,
                                       init_cpu_distributed, load_tool_config,
                                       resolve_work_dir)
from epsam.engine.hooks import NonFiniteLossError, NonFiniteWeightsError
from epsam.utils.cli import DefaultsHelpFormatter, ToolError, add_debug_argument, run_tool  # noqa: E501
from epsam.utils.registry_hints import explain_unknown_types
from mmengine.config import Config
from mmengine.runner import Runner


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model (epsam / mmseg config).',
                                     formatter_class=DefaultsHelpFormatter)
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', action='store_true', default=False,
        help='resume from the latest checkpoint in the work_dir automatically')
    parser.add_argument(
        '--amp', action='store_true', default=False,
        help='enable automatic-mixed-precision training')
    add_launch_arguments(parser)
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    export_local_rank(args)
    return args


def build_config(args) -> Config:
    cfg = load_tool_config(args.config, args.cfg_options)
    apply_launcher(cfg, args.launcher)
    resolve_work_dir(cfg, args.work_dir, args.config)
    if args.amp:
        enable_amp(cfg)
    cfg.resume = bool(args.resume) or bool(cfg.get('resume', False))
    return ensure_training_hooks(cfg)


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = build_config(args)
    init_cpu_distributed(args.launcher)
    try:
        with explain_unknown_types():
            runner = Runner.from_cfg(cfg)
            runner.train()
    except (NonFiniteLossError, NonFiniteWeightsError) as err:
        raise ToolError(str(err)) from None


if __name__ == '__main__':
    run_tool(main)

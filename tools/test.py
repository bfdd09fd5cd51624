"""Evaluate a checkpoint on a config's test split, as mmsegmentation's ``tools/test.py``.

Example::

    python tools/test.py CONFIG CHECKPOINT --work-dir work_dirs/eval
    python tools/test.py CONFIG CHECKPOINT --out work_dirs/eval/preds
    python tools/test.py CONFIG CHECKPOINT --show-dir work_dirs/eval/show  # overlays
"""
import argparse
import os.path as osp
import sys

import epsam  # noqa: F401  (installs the mmcv-lite op fallback first)
from epsam.engine.checkpoint_loading import CheckpointError, load_model_weights
from epsam.engine.config_utils import (add_launch_arguments, apply_launcher,
                                       export_local_rank, init_cpu_distributed,
                                       load_tool_config, resolve_work_dir)
from epsam.utils.cli import DefaultsHelpFormatter, ToolError, add_debug_argument, run_tool  # noqa: E501
from epsam.utils.registry_hints import explain_unknown_types
from epsam.visualization.show_results import (add_show_arguments,
                                              enable_visualization)
from mmengine.config import Config
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model.',
                                     formatter_class=DefaultsHelpFormatter)
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file (loaded with weights_only=True; '
                        'refused unless every key and shape fits the config\'s model)')
    parser.add_argument('--work-dir', help='the directory to save the evaluation metrics')
    parser.add_argument(
        '--out', type=str,
        help="directory for per-image outputs: mmseg's IoUMetric writes predicted maps, "
        "epsam's PerImageDiceMetric writes per_image.csv")
    add_show_arguments(parser)
    add_launch_arguments(parser)
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    export_local_rank(args)
    return args


def build_config(args) -> Config:
    cfg = load_tool_config(args.config, args.cfg_options, args.checkpoint)
    apply_launcher(cfg, args.launcher)
    resolve_work_dir(cfg, args.work_dir, args.config)
    cfg.load_from = None  # loaded strictly in main(), never half-fitted
    enable_visualization(cfg, show=args.show, show_dir=args.show_dir, wait_time=args.wait_time)
    if args.out is not None:
        evaluators = cfg.test_evaluator
        for evaluator in evaluators if isinstance(evaluators, list) else [evaluators]:
            kind = str(evaluator.get('type', '')).split('.')[-1]
            if kind == 'IoUMetric':  # mmseg: predicted maps as PNGs
                evaluator.update(output_dir=args.out, keep_results=True)
            elif kind == 'PerImageDiceMetric':  # epsam: Dice/IoU of every image
                evaluator['per_image_csv'] = osp.join(args.out, 'per_image.csv')
            else:
                print(f'warning: --out: {kind} writes no per-image output', file=sys.stderr)
    return cfg


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = build_config(args)
    init_cpu_distributed(args.launcher)
    with explain_unknown_types():
        runner = Runner.from_cfg(cfg)
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        try:
            load_model_weights(model, args.checkpoint, what=f'{type(model).__name__} of '
                               f'{osp.basename(args.config)}')
        except CheckpointError as error:
            raise ToolError(str(error)) from None
        runner.test()


if __name__ == '__main__':
    run_tool(main)

"""Run the whole EP-SAM protocol from one pipeline config, resuming where it stopped.

Example::

    python tools/run_pipeline.py \\
        configs/epsam/epsam-pipeline_r18tiny-cam_sam-tiny-decoder_3it_synthetic-camelyon-128x128.py
    python tools/run_pipeline.py CONFIG --sam-checkpoint checkpoints/sam_vit_b_01ec64.pth \\
        --cfg-options sam.variant=vit_b

Every stage writes its own folder under the work dir; rerunning the same
command after an interruption skips finished stages and finished items.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import epsam  # noqa: E402,F401  (installs the mmcv-lite op fallback first)
from epsam.engine.config_utils import load_tool_config  # noqa: E402
from epsam.pipeline import EPSAMPipeline  # noqa: E402
from epsam.utils.registry_hints import explain_unknown_types  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Run (or resume) the EP-SAM pipeline.')
    parser.add_argument('config', help='pipeline config (configs/epsam/epsam-pipeline_*.py)')
    parser.add_argument('--work-dir', help='default: work_dirs/{config name}')
    parser.add_argument('--sam-checkpoint',
                        help='official SAM checkpoint (e.g. sam_vit_b_01ec64.pth); without it '
                        'SAM is a randomly initialised stand-in and every output says so')
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda'")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override pipeline settings, e.g. iterations=1')
    return parser.parse_args(argv)


def build_config(args) -> Config:
    cfg = load_tool_config(args.config, args.cfg_options)
    if args.sam_checkpoint:
        if not osp.isfile(args.sam_checkpoint):
            raise SystemExit(f'error: SAM checkpoint not found: {args.sam_checkpoint}')
        cfg.sam.checkpoint = args.sam_checkpoint
    return cfg


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = build_config(args)
    work_dir = args.work_dir or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    with explain_unknown_types():
        result = EPSAMPipeline(cfg, work_dir, device=args.device).run()
    print(f"Results: {osp.join(work_dir, 'stage5_evaluation', 'results.md')}")
    return result


if __name__ == '__main__':
    main()

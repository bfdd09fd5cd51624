"""Step 7: evaluate CAM-only masks and CAM-prompted SAM (untuned and tuned) on a split.

EP-SAM's protocol: per-image foreground Dice and IoU (smoothing 1e-3),
averaged over the positive patches of the split, with SAM prompted from the
classifier's CAMs exactly as at inference time.
"""
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from epsam.datasets.patch_io import read_patch_mask
from epsam.evaluation.metrics.functional import dice_iou_per_image
from epsam.pseudo_labels import PseudoLabelGenerator
from epsam.pseudo_labels.cam_store import load_label_png
from epsam.pseudo_labels.items import PseudoLabelItem, items_from_cam_dir

from .context import PipelineContext
from .stages import CAM_STAGE, load_inference_sam

PROTOCOL = 'per-image foreground Dice/IoU (smooth 1e-3), mean over positive patches'


def ground_truth(ctx: PipelineContext, split: str, stem: str) -> np.ndarray:
    """The split's pixel mask of ``stem`` as bool foreground (H, W)."""
    path = osp.join(ctx.gt_mask_dir(split), f'{stem}.png')
    return read_patch_mask(path, binary=True) > 0


def score_masks(predictions: Dict[str, Optional[np.ndarray]],
                truths: Dict[str, np.ndarray]) -> Tuple[float, float]:
    """Mean Dice and IoU in percent; a missing prediction counts as an empty mask."""
    dices, ious = [], []
    for stem, truth in truths.items():
        pred = predictions.get(stem)
        pred = np.zeros_like(truth) if pred is None else pred
        dice, iou = dice_iou_per_image(torch.from_numpy(pred), torch.from_numpy(truth))
        dices.append(dice)
        ious.append(iou)
    return 100 * float(np.mean(dices)), 100 * float(np.mean(ious))


def evaluation_items(ctx: PipelineContext, split: str) -> List[PseudoLabelItem]:
    return items_from_cam_dir(ctx.image_dir(split), osp.join(ctx.stage_dir(CAM_STAGE), split))


def sam_masks(ctx: PipelineContext, checkpoint: Optional[str],
              items: Sequence[PseudoLabelItem]) -> Tuple[Dict[str, Optional[np.ndarray]], float]:
    """CAM-prompted SAM masks (no selection) and the seconds they took."""
    start = time.time()
    sam, embedder = load_inference_sam(ctx, checkpoint)
    section = ctx.cfg.evaluation
    generator = PseudoLabelGenerator(
        sam, section.prompt, dict(type='KeepAllSelector'), device=ctx.device,
        batch_size=section.get('batch_size', 4), cache=embedder,
        seed=section.get('seed', 0), progress=False)
    return generator.predict_masks(items), time.time() - start


def evaluate_models(ctx: PipelineContext, tuned: Sequence[Tuple[str, str, float]]) -> Dict:
    """Score every model of the run on the test split.

    Args:
        ctx: The pipeline context.
        tuned: ``(row name, SAM checkpoint, training seconds)`` per tuned SAM.

    Returns:
        The evaluation record: rows of (method, Dice, IoU, images, seconds).
    """
    split = ctx.cfg.test_split
    items = evaluation_items(ctx, split)
    if not items:
        raise RuntimeError(f'no positive {split} patch has a CAM mask: nothing to evaluate '
                           f'(see {osp.join(ctx.stage_dir(CAM_STAGE), split)}/summary.json)')
    truths = {item.stem: ground_truth(ctx, split, item.stem) for item in items}
    rows = []
    cam_masks = {item.stem: load_label_png(item.mask_path) == 1 for item in items}
    dice, iou = score_masks(cam_masks, truths)
    cam_seconds = ctx.ledger.record(CAM_STAGE)['seconds']
    rows.append(dict(method='CAM only (initial masks)', dice=dice, iou=iou,
                     train_seconds=0.0, infer_seconds=cam_seconds))
    for name, checkpoint, train_seconds in [('SAM + CAM prompts, untuned', None, 0.0), *tuned]:
        masks, seconds = sam_masks(ctx, checkpoint, items)
        dice, iou = score_masks(masks, truths)
        rows.append(dict(method=name, dice=dice, iou=iou, train_seconds=train_seconds,
                         infer_seconds=seconds, checkpoint=checkpoint))
    return dict(split=split, images=len(items), protocol=PROTOCOL, rows=rows,
                sam=ctx.sam_note, stand_in_sam=ctx.stand_in_sam,
                pixel_labels_for_selection=ctx.uses_pixel_labels_for_selection)

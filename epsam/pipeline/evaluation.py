"""Step 7: evaluate the baselines and CAM-prompted SAM (untuned and tuned) on a split.

EP-SAM's protocol: per-image foreground Dice and IoU (smoothing 1e-3),
averaged over the positive patches of the split, with SAM prompted from the
classifier's CAMs exactly as at inference time. Every report carries the
rows a method must beat: the whole patch (on patches that are 20-90 %
tumour this alone scores a fair Dice), the CAM's initial masks (the
configured mask maker) and the CAM at Otsu's threshold. A SAM that predicts
(nearly) the whole patch on most images is flagged as collapsed, by name,
in the report and the log.
"""
import logging
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.logging import print_log

from epsam.cams.mask_makers import OtsuMaskMaker
from epsam.cams.recipe import cam_recipe
from epsam.evaluation.metrics.functional import dice_iou_per_image
from epsam.fileio.cam_store import load_cam, load_label_png
from epsam.fileio.items import PseudoLabelItem, items_from_cam_dir
from epsam.fileio.patch_io import read_patch_mask
from epsam.pseudo_labels import PseudoLabelGenerator

from .context import PipelineContext
from .stage_models import classifier_config, load_inference_sam
from .stage_names import CAM_STAGE

PROTOCOL = 'per-image foreground Dice/IoU (smooth 1e-3), mean over positive patches'


def ground_truth(ctx: PipelineContext, split: str, stem: str) -> np.ndarray:
    """The split's pixel mask of ``stem`` as bool foreground (H, W)."""
    path = osp.join(ctx.gt_mask_dir(split), f'{stem}.png')
    return read_patch_mask(path, binary=True) > 0


#: A mask covering at least this fraction of its patch counts as "the whole patch".
WHOLE_PATCH_FRACTION = 0.95


def score_masks(predictions: Dict[str, Optional[np.ndarray]],
                truths: Dict[str, np.ndarray]) -> Dict[str, float]:
    """Mean Dice and IoU in percent, and how many masks cover (nearly) the whole patch.

    A missing prediction counts as an empty mask.

    Returns:
        ``dice``, ``iou`` (percent), ``whole_patch_masks`` (masks covering at
        least :data:`WHOLE_PATCH_FRACTION` of their patch) and
        ``mean_foreground`` (mean fraction of the patch predicted, percent).
    """
    return summarise_scores(per_image_scores(predictions, truths), list(truths))


def per_image_scores(predictions: Dict[str, Optional[np.ndarray]],
                     truths: Dict[str, np.ndarray]) -> Dict[str, Tuple[float, float, float]]:
    """``stem -> (dice, iou, predicted fraction)`` of every image of ``truths``.

    A missing prediction counts as an empty mask. Each image's numbers depend
    on that image alone, so shards of a split score their images apart.
    """
    scores = {}
    for stem, truth in truths.items():
        pred = predictions.get(stem)
        pred = np.zeros_like(truth) if pred is None else pred
        dice, iou = dice_iou_per_image(torch.from_numpy(pred), torch.from_numpy(truth))
        scores[stem] = (float(dice), float(iou), float(np.mean(pred)))
    return scores


def summarise_scores(scores: Dict[str, Tuple[float, float, float]],
                     stems: Sequence[str]) -> Dict[str, float]:
    """:func:`score_masks`'s numbers from per-image scores, summed in ``stems``' order.

    The order is fixed (the split's item order), so scores gathered from any
    number of shards give the same bits as one process.
    """
    dices, ious, fractions = zip(*(scores[stem] for stem in stems))
    return dict(dice=100 * float(np.mean(dices)), iou=100 * float(np.mean(ious)),
                whole_patch_masks=int(sum(f >= WHOLE_PATCH_FRACTION for f in fractions)),
                mean_foreground=100 * float(np.mean(fractions)))


def collapsed(row: Dict, images: int) -> bool:
    """Whether a SAM row predicts (nearly) the whole patch on most images."""
    return row.get('whole_patch_masks', 0) > images / 2


def describe_config(cfg: Dict) -> str:
    """``Type(key=value, ...)`` of a registry config, for row names."""
    cfg = dict(cfg)
    kind = cfg.pop('type', '?')
    return f"{kind}({', '.join(f'{k}={v}' for k, v in cfg.items())})"


def baseline_masks(ctx: PipelineContext, items: Sequence[PseudoLabelItem],
                   truths: Dict[str, np.ndarray]) -> List[Tuple[str, Dict]]:
    """The rows every method is measured against: whole patch, CAM mask, CAM at Otsu."""
    otsu = OtsuMaskMaker()
    mask_maker = cam_recipe(classifier_config(ctx))['mask_maker']
    return [
        ('whole patch (every pixel foreground)',
         {stem: np.ones_like(truth) for stem, truth in truths.items()}),
        (f'CAM initial masks, {describe_config(mask_maker)}',
         {item.stem: load_label_png(item.mask_path) == 1 for item in items}),
        ('CAM at Otsu threshold',
         {item.stem: otsu(load_cam(item.cam_path).cam[0]).astype(bool)
          for item in items}),
    ]


def evaluation_items(ctx: PipelineContext, split: str) -> List[PseudoLabelItem]:
    return items_from_cam_dir(ctx.image_dir(split), osp.join(ctx.stage_dir(CAM_STAGE), split))


def sam_prompted_masks(sam: torch.nn.Module, embedder: Optional[object], prompt: Dict,
                       items: Sequence[PseudoLabelItem], device: str = 'cpu', seed: int = 0,
                       batch_size: int = 4) -> Dict[str, Optional[np.ndarray]]:
    """SAM's masks for items prompted from their CAM masks (no selection).

    Args:
        sam: The SAM (see :func:`~epsam.pipeline.stage_models.load_inference_sam`).
        embedder: Its source of image embeddings (cache or adapter), or ``None``.
        prompt: ``PROMPT_GENERATORS`` config.
        items: Images with their CAM and initial mask.
        device: Where SAM runs.
        seed: Base seed of the per-image prompt generators.
        batch_size: Images per encoder pass.
    """
    generator = PseudoLabelGenerator(
        sam, prompt, dict(type='KeepAllSelector'), device=device, batch_size=batch_size,
        cache=embedder, seed=seed, progress=False)
    return generator.predict_masks(items)


def sam_masks(ctx: PipelineContext, checkpoint: Optional[str],
              items: Sequence[PseudoLabelItem]) -> Tuple[Dict[str, Optional[np.ndarray]], float]:
    """CAM-prompted SAM masks as the pipeline evaluates them, and the seconds they took."""
    start = time.time()
    sam, embedder = load_inference_sam(ctx, checkpoint)
    section = ctx.cfg.evaluation
    masks = sam_prompted_masks(sam, embedder, section.prompt, items, ctx.device,
                               seed=section.get('seed', 0),
                               batch_size=section.get('batch_size', 4))
    return masks, time.time() - start


def _merged_scores(ctx: PipelineContext, scores: Dict, stems: Sequence[str]) -> Dict:
    """Every rank's per-image scores of one row, summarised in the split's order."""
    merged: Dict = {}
    for part in ctx.ranks.gather(scores):
        merged.update(part)
    return summarise_scores(merged, stems)


def evaluate_models(ctx: PipelineContext, tuned: Sequence[Tuple[str, str, float]]) -> Dict:
    """Score every model of the run on the test split.

    Under a launcher each rank predicts and scores its batches of the split
    (:meth:`~.distributed.PipelineRanks.shard`); the per-image scores of every
    rank are merged in the split's order, so every rank returns the numbers
    of one process.

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
    stems = [item.stem for item in items]
    mine = ctx.ranks.shard(items, ctx.cfg.evaluation.get('batch_size', 4))
    truths = {item.stem: ground_truth(ctx, split, item.stem) for item in mine}
    rows = []
    cam_seconds = ctx.ledger.record(CAM_STAGE)['seconds']
    for name, masks in baseline_masks(ctx, mine, truths):
        rows.append(dict(method=name, baseline=True, train_seconds=0.0,
                         infer_seconds=cam_seconds if name.startswith('CAM') else 0.0,
                         **_merged_scores(ctx, per_image_scores(masks, truths), stems)))
    for name, checkpoint, train_seconds in [('SAM + CAM prompts, untuned', None, 0.0), *tuned]:
        masks, seconds = sam_masks(ctx, checkpoint, mine)
        seconds = max(ctx.ranks.gather(seconds))  # the slowest rank's wall time
        row = dict(method=name, train_seconds=train_seconds, infer_seconds=seconds,
                   checkpoint=checkpoint,
                   **_merged_scores(ctx, per_image_scores(masks, truths), stems))
        row['collapsed'] = collapsed(row, len(items))
        if row['collapsed'] and ctx.ranks.is_main:
            print_log(f'[pipeline] COLLAPSE: {name} predicts at least '
                      f'{WHOLE_PATCH_FRACTION:.0%} of the patch on {row["whole_patch_masks"]} '
                      f'of {len(items)} test images (Dice {row["dice"]:.2f} vs whole patch '
                      f'{rows[0]["dice"]:.2f})', logger='current', level=logging.WARNING)
        rows.append(row)
    return dict(split=split, images=len(items), protocol=PROTOCOL, rows=rows,
                sam=ctx.sam_note, sam_label=ctx.sam_label, stand_in_sam=ctx.stand_in_sam,
                pixel_labels_for_selection=ctx.uses_pixel_labels_for_selection)

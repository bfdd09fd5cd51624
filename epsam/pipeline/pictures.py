"""Picture grids of the binary pipeline: image, CAM, prompts, SAM mask, pseudo-label, truth."""
import itertools
import os.path as osp
from typing import List, Optional

import cv2
import numpy as np
import torch

from epsam.evaluation.metrics.functional import dice_iou_per_image
from epsam.fileio.atomic_io import atomic_write_bytes
from epsam.fileio.cam_store import load_cam, load_label_png
from epsam.pseudo_labels.sam_inference import BatchedSamPredictor
from epsam.visualization.panels import cam_heatmap, draw_prompts, mask_overlay, panel_grid

from .context import PipelineContext
from .method_predictions import evaluation_items, ground_truth
from .stage_models import load_inference_sam
from .stage_names import pseudo_label_stage

GRID_LEGEND = ('prompts: orange boxes, yellow positive / cyan negative points; overlays: '
               'green SAM, magenta pseudo-label (rejected by the selector: "none kept"), blue '
               'ground truth; Dice of the SAM mask in its title')


def write_picture_grids(ctx: PipelineContext, split: str, pseudo_dir: Optional[str],
                        predictions, out_path: str, max_items: int = 6) -> str:
    """One row per patch: image / CAM / prompts / SAM mask [/ pseudo-label] / truth.

    The pseudo-label column appears for a split that has pseudo-labels
    (``pseudo_dir``); the footer holds a legend, the CAM colour bar and the
    SAM's weights.
    """
    rows = []
    for prediction in predictions[:max_items]:
        item = prediction.item
        image = cv2.cvtColor(cv2.imread(item.img_path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        cam = load_cam(item.cam_path).cam[0]
        prompts = prediction.prompts
        truth_path = osp.join(ctx.gt_mask_dir(split), f'{item.stem}.png')
        truth = ground_truth(ctx, split, item.stem) if osp.isfile(truth_path) else None
        sam_title = 'SAM mask'
        if truth is not None and prediction.mask is not None:
            dice, _ = dice_iou_per_image(torch.from_numpy(prediction.mask),
                                         torch.from_numpy(truth))
            sam_title = f'SAM mask, Dice {100 * dice:.1f}'
        row = [
            (item.stem[-20:], image),
            ('CAM', cam_heatmap(image, cam)),
            ('prompts', None if prompts is None else draw_prompts(
                image, prompts.point_coords, prompts.point_labels, prompts.boxes)),
            (sam_title, mask_overlay(image, prediction.mask)),
        ]
        if pseudo_dir:
            pseudo_path = osp.join(pseudo_dir, f'{item.stem}.png')
            kept = osp.isfile(pseudo_path)
            row.append(('pseudo-label' if kept else 'pseudo-label: none kept',
                        mask_overlay(image, load_label_png(pseudo_path) == 1 if kept else
                                     np.zeros(image.shape[:2], bool), (200, 0, 200))))
        row.append(('ground truth', mask_overlay(image, truth, (0, 0, 230))))
        rows.append(row)
    grid = panel_grid(rows, footer=f'{GRID_LEGEND}. {ctx.sam_note}', colour_bar='CAM')
    ok, encoded = cv2.imencode('.png', cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError(f'could not encode the picture grid {out_path}')
    atomic_write_bytes(out_path, encoded.tobytes())
    return out_path


def picture_items(items: List, pseudo_dir: Optional[str], count: int) -> List:
    """The first ``count`` items, alternating kept and rejected pseudo-labels when
    ``pseudo_dir`` is given (so a grid shows both), in their listing order."""
    if not pseudo_dir:
        return list(items[:count])
    kept = [i for i in items if osp.isfile(osp.join(pseudo_dir, f'{i.stem}.png'))]
    rejected = [i for i in items if i not in kept]
    mixed = [item for pair in itertools.zip_longest(kept, rejected) for item in pair if item]
    return mixed[:count]


def write_pictures(ctx: PipelineContext, final_checkpoint: str, out_dir: str) -> List[str]:
    """Grids ``grid_{split}.png`` of a few train patches (with the last pseudo-labels)
    and test patches, predicted by the SAM of ``final_checkpoint``.

    Args:
        ctx: The pipeline context (``evaluation.num_pictures`` patches per grid).
        final_checkpoint: The last tuned SAM.
        out_dir: Where the grids are written.

    Returns:
        The grids' paths (none when ``num_pictures`` is 0).
    """
    count = int(ctx.cfg.evaluation.get('num_pictures', 6))
    if count <= 0:
        return []
    last = int(ctx.cfg.get('iterations', 3))
    pseudo_dir: Optional[str] = None
    if last > 0:
        pseudo_dir = osp.join(ctx.stage_dir(pseudo_label_stage(last)), 'masks')
    sam, embedder = load_inference_sam(ctx, final_checkpoint)
    predictor = BatchedSamPredictor(sam, ctx.cfg.evaluation.prompt, device=ctx.device,
                                    cache=embedder, seed=ctx.cfg.evaluation.get('seed', 0))
    paths = []
    for split, pseudo in ((ctx.cfg.train_split, pseudo_dir), (ctx.cfg.test_split, None)):
        items = picture_items(evaluation_items(ctx, split), pseudo, count)
        predictions = list(predictor.predict(items))
        paths.append(write_picture_grids(ctx, split, pseudo, predictions,
                                         osp.join(out_dir, f'grid_{split}.png'), count))
    return paths

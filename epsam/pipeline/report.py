"""The pipeline's outputs for people: a table, Markdown/JSON files and picture grids."""
import copy
import itertools
import os.path as osp
from typing import Dict, List, Optional

import cv2
import numpy as np
import torch
from prettytable import PrettyTable, TableStyle

from epsam.evaluation.metrics.functional import dice_iou_per_image
from epsam.fileio.atomic_io import atomic_write_bytes, atomic_write_json, atomic_write_text
from epsam.fileio.cam_store import load_cam, load_label_png
from epsam.visualization.panels import cam_heatmap, draw_prompts, mask_overlay, panel_grid

from .context import PipelineContext
from .evaluation import evaluation_items, ground_truth
from .stage_models import load_inference_sam
from .stage_names import pseudo_label_stage

COLUMNS = ('method', 'Dice (%)', 'IoU (%)', 'whole-patch masks', 'train (s)', 'inference (s)')
COLLAPSE_TAG = ' [COLLAPSED: whole patch]'


def results_table(record: Dict) -> PrettyTable:
    """Baseline rows first, then every SAM; collapsed SAMs are tagged in their name."""
    table = PrettyTable(COLUMNS)
    table.title = (f"EP-SAM on {record['split']} ({record['images']} positive patches); "
                   f'SAM: {sam_label(record)}')
    for row in record['rows']:
        name = row['method'] + (COLLAPSE_TAG if row.get('collapsed') else '')
        whole = row.get('whole_patch_masks')
        table.add_row([name, f"{row['dice']:.2f}", f"{row['iou']:.2f}",
                       '-' if whole is None else f"{whole}/{record['images']}",
                       f"{row['train_seconds']:.1f}", f"{row['infer_seconds']:.1f}"])
    table.align['method'] = 'l'
    return table


def collapse_note(record: Dict) -> List[str]:
    """A line naming the SAM rows that predict (nearly) the whole patch on most images."""
    names = [row['method'] for row in record['rows'] if row.get('collapsed')]
    if not names:
        return []
    return [f'COLLAPSE: {", ".join(names)} predict(s) at least 95 % of the patch on most test '
            'images, i.e. the whole-patch baseline, not a segmentation']


def sam_label(record: Dict) -> str:
    """The SAM's short name in a table title (records older than the label say less)."""
    if 'sam_label' in record:
        return record['sam_label']
    return 'RANDOM STAND-IN' if record['stand_in_sam'] else 'checkpoint'


def selection_note(record: Dict) -> str:
    """Whether pixel labels selected the checkpoints (every report says so)."""
    if record['pixel_labels_for_selection']:
        return ('Checkpoints were SELECTED WITH GROUND-TRUTH PIXEL LABELS '
                '(model_selection.use_pixel_labels=True): not weakly supervised.')
    return 'No pixel label was used for training or model selection.'


def notes(record: Dict) -> List[str]:
    return [record['sam'], f"Protocol: {record['protocol']}.", selection_note(record),
            *collapse_note(record)]


def as_sentences(lines: List[str]) -> str:
    """The report's note lines as one text, each line ending with a full stop."""
    return ' '.join(line if line.endswith('.') else line + '.' for line in lines)


def write_record_files(out_dir: str, title: str, lines: List[str], table: PrettyTable,
                       record: Dict) -> None:
    """``results.md`` (title, notes, the table as Markdown) and ``results.json``."""
    markdown_table = copy.deepcopy(table)
    markdown_table.set_style(TableStyle.MARKDOWN)
    markdown = [f'# {title}', ''] + [f'- {line}' for line in lines]
    markdown += ['', markdown_table.get_string(), '']
    atomic_write_text(osp.join(out_dir, 'results.md'), '\n'.join(markdown))
    atomic_write_json(osp.join(out_dir, 'results.json'), record)


def write_results(ctx: PipelineContext, record: Dict, out_dir: str) -> str:
    """``results.md``, ``results.json`` and the harness's ``final_metrics.json``."""
    table = results_table(record)
    write_record_files(out_dir, 'EP-SAM pipeline results', notes(record), table, record)
    final = record['rows'][-1]
    atomic_write_json(osp.join(ctx.work_dir, 'final_metrics.json'), dict(
        method=ctx.cfg.get('method_name', 'EP-SAM'), dataset=ctx.cfg.get('dataset_name', ''),
        protocol=record['protocol'], metrics=dict(Dice=final['dice'], IoU=final['iou']),
        train_time_s=sum(r['train_seconds'] for r in record['rows']),
        peak_memory_bytes=None, trainable_params=None, notes=as_sentences(notes(record)),
        stand_in_sam=record['stand_in_sam'], sam_weights=ctx.sam_provenance))
    return table.get_string()


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
    from epsam.pseudo_labels.sam_inference import BatchedSamPredictor
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

"""Multi-class evaluation: class maps of the test split under both WSSS protocols.

Every test patch with a ground-truth mask counts. A method's class map of a
patch is compared pixel by pixel with the truth; a patch the method gives no
map (no CAM: predicted negative; no prompt) counts as all background, and
undecided pixels (255) count as background too. The confusion matrix over
the split is turned into mIoU, FwIoU, Dice and per-class IoU by
:class:`~epsam.evaluation.metrics.WSSSIoUMetric` under each protocol:
``exclude_background`` (WSSS-Tissue / MLPS) and ``full_matrix`` (TPRO).
"""
import os
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from epsam.evaluation.metrics.functional import confusion_matrix
from epsam.evaluation.metrics.wsss_iou import PROTOCOLS, WSSSIoUMetric
from epsam.fileio.cam_store import load_label_png
from epsam.fileio.patch_io import read_patch_mask
from epsam.pseudo_labels import class_items_from_cam_dir

from .context import PipelineContext
from .multiclass_stages import build_labeller, dataset_metainfo
from .stage_names import CAM_STAGE
from .stages import split_label_mode

UNDECIDED_NOTE = ('a patch without a class map and undecided (255) pixels count as '
                  'background')


def test_stems(ctx: PipelineContext, split: str) -> List[str]:
    """Stems of every ground-truth mask of ``split``."""
    folder = ctx.gt_mask_dir(split)
    if not osp.isdir(folder):
        raise FileNotFoundError(f'ground-truth folder {folder!r} of split {split!r} does not '
                                'exist (split_prefixes[...].seg_map_path)')
    stems = sorted(name[:-4] for name in os.listdir(folder)
                   if name.endswith('.png') and not name.startswith('.'))
    if not stems:
        raise RuntimeError(f'{folder} holds no ground-truth mask: nothing to evaluate')
    return stems


def split_confusion(predictions: Dict[str, Optional[np.ndarray]], truths: Dict[str, np.ndarray],
                    num_classes: int, background_index: int,
                    ignore_index: int = 255) -> torch.Tensor:
    """Summed ``(C, C)`` confusion matrix (rows = truth) over ``truths``' patches.

    Args:
        predictions: stem -> (H, W) class map (255 = undecided) or None.
        truths: stem -> (H, W) ground truth (``ignore_index`` pixels dropped).
        num_classes: Segmentation classes C, background included.
        background_index: Value that missing maps and undecided pixels take.
        ignore_index: Undecided / unlabelled value.
    """
    conf = torch.zeros(num_classes, num_classes, dtype=torch.long)
    for stem, truth in truths.items():
        pred = predictions.get(stem)
        if pred is None:
            pred = np.full_like(truth, background_index)
        elif pred.shape != truth.shape:
            raise ValueError(f'{stem}: class map {pred.shape} vs ground truth {truth.shape}')
        pred = np.where(pred == ignore_index, background_index, pred)
        conf += confusion_matrix(torch.from_numpy(pred.astype(np.int64)),
                                 torch.from_numpy(truth.astype(np.int64)), num_classes,
                                 ignore_index=ignore_index)
    return conf


def protocol_metrics(conf: torch.Tensor, classes: Sequence[str],
                     background_index: int) -> Dict[str, Dict[str, float]]:
    """protocol -> ``mIoU``, ``FwIoU``, ``Dice``, ``aAcc``, ``IoU.<class>`` (percent)."""
    out = {}
    for protocol in PROTOCOLS:
        metric = WSSSIoUMetric(protocol=protocol, background_index=background_index, prefix='')
        metric.dataset_meta = dict(classes=tuple(classes), background_index=background_index)
        values = metric.compute_metrics([conf])
        values['Dice'] = values.pop('mDice')
        out[protocol] = {k: float(v) for k, v in values.items()}
    return out


def _sam_maps(ctx: PipelineContext, checkpoint: Optional[str],
              split: str) -> Tuple[Dict[str, Optional[np.ndarray]], float]:
    start = time.time()
    section = ctx.cfg.evaluation
    labeller = build_labeller(ctx, checkpoint, section, dict(type='KeepAllSelector'))
    entries = class_items_from_cam_dir(ctx.image_dir(split),
                                       osp.join(ctx.stage_dir(CAM_STAGE), split))
    maps = {result.stem: result.class_map for result in labeller.label(entries)}
    return maps, time.time() - start


def _cam_maps(ctx: PipelineContext, split: str) -> Dict[str, np.ndarray]:
    folder = osp.join(ctx.stage_dir(CAM_STAGE), split, 'masks')
    return {name[:-4]: load_label_png(osp.join(folder, name)) for name in sorted(
        os.listdir(folder)) if name.endswith('.png')}


def evaluate_class_maps(ctx: PipelineContext, tuned: Sequence[Tuple[str, str, float]],
                        cam_train_seconds: float) -> Dict:
    """Score CAM class maps and CAM-prompted SAM class maps on the test split.

    Args:
        ctx: The pipeline context.
        tuned: ``(row name, SAM checkpoint, training seconds)`` per tuned SAM
            (empty when the config has ``use_sam=False``).
        cam_train_seconds: Seconds spent on the classifier (its rows' training time).

    Returns:
        The evaluation record: ``rows`` of (method, protocol, metrics,
        train / inference seconds), the protocols' note and the SAM note.
    """
    split = ctx.cfg.test_split
    meta = dataset_metainfo(ctx)
    classes, background = meta['classes'], meta['background_index']
    truths = {stem: read_patch_mask(osp.join(ctx.gt_mask_dir(split), f'{stem}.png'),
                                    num_classes=len(classes))
              for stem in test_stems(ctx, split)}
    cam_seconds = ctx.ledger.record(CAM_STAGE)['seconds']
    methods = [(f"{ctx.cfg.get('cam_name', 'CAM')} class maps (initial masks)",
                _cam_maps(ctx, split), cam_train_seconds, cam_seconds, None)]
    use_sam = bool(ctx.cfg.get('use_sam', True))
    if use_sam:
        for name, checkpoint, seconds in [('SAM + CAM prompts, untuned', None, 0.0), *tuned]:
            maps, infer = _sam_maps(ctx, checkpoint, split)
            methods.append((name, maps, cam_train_seconds + seconds, infer, checkpoint))
    rows = []
    for name, maps, train_seconds, infer_seconds, checkpoint in methods:
        conf = split_confusion(maps, truths, len(classes), background)
        for protocol, metrics in protocol_metrics(conf, classes, background).items():
            rows.append(dict(method=name, protocol=protocol, metrics=metrics,
                             train_seconds=train_seconds, infer_seconds=infer_seconds,
                             checkpoint=checkpoint))
    return dict(split=split, images=len(truths), classes=list(classes),
                background_index=background, rows=rows,
                sam=ctx.sam_note if use_sam else 'no SAM', sam_label=ctx.sam_label,
                stand_in_sam=use_sam and ctx.stand_in_sam, use_sam=use_sam,
                undecided=UNDECIDED_NOTE,
                test_labels=split_label_mode(ctx, split),
                pixel_labels_for_selection=ctx.uses_pixel_labels_for_selection)

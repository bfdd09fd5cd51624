"""The stages of the multi-class protocol (``task='multiclass'`` pipeline configs).

Same folders and stage names as the binary protocol (:mod:`.stages`); what
differs:

* CAMs (:func:`.stages.generate_split_cams` with ``split_labels=True``): K
  per-class CAMs and class-map initial masks (``MultiClassMaskMaker``); each
  split says where its image labels come from (``split_labels``);
* SAM tuning is class-agnostic: every (image, class) pair of a class map
  becomes one binary training target (``{stem}__c{k}.png``: 1 = that class,
  255 = ignored, 0 = anything else), written under the tuning stage's
  ``targets/`` folder with a link to the image, so the binary tuning config
  (``SamMaskDataset``) trains on them unchanged;
* pseudo-labels: per labelled class, merged into class maps
  (:class:`~epsam.pseudo_labels.ClassMapLabeller`).
"""
import json
import os
import os.path as osp
import shutil
import time
from typing import Dict, List, Optional

import numpy as np
from mmengine.logging import print_log

from epsam.fileio.atomic_io import atomic_write_json
from epsam.fileio.cam_store import load_label_png, save_label_png
from epsam.pseudo_labels import ClassMapLabeller, class_items_from_cam_dir
from epsam.registry import DATASETS

from .context import PipelineContext
from .stage_models import classifier_config, load_inference_sam
from .stage_names import CAM_STAGE, pseudo_label_stage, sam_tuning_stage
from .stages import sam_tuning_config, train_sam


def dataset_metainfo(ctx: PipelineContext) -> Dict:
    """``classes``, ``cls_classes`` and ``background_index`` of the classifier's dataset."""
    cfg = classifier_config(ctx)
    dataset_type = cfg.train_dataloader.dataset.type
    meta = getattr(DATASETS.get(dataset_type), 'METAINFO', None) or {}
    missing = [k for k in ('classes', 'cls_classes', 'background_index') if meta.get(k) is None]
    if missing:
        raise ValueError(f'{dataset_type}.METAINFO lacks {missing}: the multi-class pipeline '
                         'needs the segmentation classes, the label classes and a background')
    return dict(classes=tuple(meta['classes']), cls_classes=tuple(meta['cls_classes']),
                background_index=int(meta['background_index']))


# --- steps 4 and 6: class-agnostic SAM tuning ------------------------------------
def _link_or_copy(source: str, target: str) -> None:
    if osp.lexists(target):
        return
    try:
        os.symlink(osp.abspath(source), target)
    except OSError:  # file systems without links
        shutil.copyfile(source, target)


def expand_class_targets(img_dir: str, class_map_dir: str, out_dir: str,
                         num_classes: int, ignore_index: int = 255) -> int:
    """One binary SAM target per (image, tissue class present in its class map).

    Args:
        img_dir: Folder of the images ``{stem}.png``.
        class_map_dir: Class maps ``{stem}.png`` (initial masks or pseudo-labels).
        out_dir: Receives ``images/{stem}__c{k}.png`` (links to the images)
            and ``masks/{stem}__c{k}.png`` (1 = class k, ``ignore_index``
            kept, 0 elsewhere).
        num_classes: Number of tissue classes K (values 0..K-1 are tissue).
        ignore_index: Value of ignored pixels.

    Returns:
        The number of targets.
    """
    if not osp.isdir(class_map_dir):
        raise FileNotFoundError(f'class-map folder {class_map_dir!r} does not exist')
    os.makedirs(osp.join(out_dir, 'images'), exist_ok=True)
    count = 0
    for name in sorted(os.listdir(class_map_dir)):
        if not name.endswith('.png') or name.startswith('.'):
            continue
        stem = name[:-4]
        image = osp.join(img_dir, name)
        if not osp.isfile(image):
            raise FileNotFoundError(f'{osp.join(class_map_dir, name)} has no image {image!r}')
        class_map = load_label_png(osp.join(class_map_dir, name))
        for cls in range(num_classes):
            region = class_map == cls
            if not region.any():
                continue
            target = np.where(region, 1, 0).astype(np.uint8)
            target[class_map == ignore_index] = ignore_index
            save_label_png(osp.join(out_dir, 'masks', f'{stem}__c{cls}.png'), target)
            _link_or_copy(image, osp.join(out_dir, 'images', f'{stem}__c{cls}.png'))
            count += 1
    return count


def tune_sam_on_class_maps(ctx: PipelineContext, iteration: int, class_map_dir: str) -> Dict:
    """Re-train SAM (from the original weights) on the per-class targets of ``class_map_dir``."""
    if ctx.uses_pixel_labels_for_selection:
        raise NotImplementedError('model_selection.use_pixel_labels is binary-only; the '
                                  'multi-class pipeline selects no checkpoint on pixel labels')
    start = time.time()
    stage = sam_tuning_stage(iteration)
    meta = dataset_metainfo(ctx)
    target_dir = osp.join(ctx.stage_dir(stage), 'targets')
    # Rank 0 writes the targets; every rank then trains on them (DDP under a launcher).
    count = ctx.ranks.gather(ctx.ranks.on_main(lambda: expand_class_targets(
        ctx.image_dir(ctx.cfg.train_split), class_map_dir, target_dir,
        len(meta['cls_classes']))))[0]
    if count == 0:
        raise RuntimeError(f'no class map in {class_map_dir} holds a tissue class: nothing to '
                           'tune SAM on')
    cfg = sam_tuning_config(ctx, osp.join(target_dir, 'masks'))
    cfg.train_dataloader.dataset.img_dir = osp.abspath(osp.join(target_dir, 'images'))
    checkpoint, seconds, selection = train_sam(ctx, iteration, cfg, start)
    return dict(checkpoint=checkpoint, mask_dir=class_map_dir, targets=count, seconds=seconds,
                selection=selection)


# --- step 5: per-class pseudo-labels -------------------------------------------
def build_labeller(ctx: PipelineContext, checkpoint: Optional[str], section: dict,
                   selector: dict) -> ClassMapLabeller:
    """A :class:`ClassMapLabeller` over the SAM of ``checkpoint`` (original if None)."""
    sam, embedder = load_inference_sam(ctx, checkpoint)
    return ClassMapLabeller(
        sam, section['prompt'], selector,
        background_index=dataset_metainfo(ctx)['background_index'],
        merge=ctx.cfg.get('class_merge'), batch_size=section.get('batch_size', 4),
        device=ctx.device, cache=embedder, seed=section.get('seed', 0))


def make_class_pseudo_labels(ctx: PipelineContext, iteration: int,
                             sam_checkpoint: str) -> Dict:
    """Class-map pseudo-labels of the train split: ``masks/``, ``records/``, ``summary.json``.

    Resumable: an image with a record is not labelled again; a folder made
    with other settings is refused.
    """
    start = time.time()
    out_dir = ctx.stage_dir(pseudo_label_stage(iteration))
    section = ctx.cfg.pseudo_labels
    labeller = build_labeller(ctx, sam_checkpoint, section, section.selector)
    settings = dict(labeller.settings(), sam_checkpoint=sam_checkpoint)
    _check_settings(osp.join(out_dir, 'settings.json'), settings)
    split = ctx.cfg.train_split
    entries = class_items_from_cam_dir(ctx.image_dir(split),
                                       osp.join(ctx.stage_dir(CAM_STAGE), split))
    records_dir = osp.join(out_dir, 'records')
    todo = [e for e in entries if not osp.isfile(osp.join(records_dir, f'{e.stem}.json'))]
    for result in labeller.label(todo):
        if result.class_map is not None:
            save_label_png(osp.join(out_dir, 'masks', f'{result.stem}.png'), result.class_map)
        atomic_write_json(osp.join(records_dir, f'{result.stem}.json'), dict(
            stem=result.stem, written=result.class_map is not None, classes=result.classes))
    counts = _count(records_dir, [e.stem for e in entries])
    atomic_write_json(osp.join(out_dir, 'summary.json'), dict(counts=counts, settings=settings))
    print_log(f'[pipeline] class pseudo-labels iteration {iteration}: {counts}',
              logger='current')
    return dict(mask_dir=osp.join(out_dir, 'masks'), counts=counts,
                images_encoded=labeller.predictor.images_encoded,
                seconds=time.time() - start)


def _check_settings(path: str, settings: Dict) -> None:
    settings = json.loads(json.dumps(settings, sort_keys=True))
    if osp.isfile(path):
        with open(path, encoding='utf-8') as stream:
            old = json.load(stream)
        if old != settings:
            changed = sorted(k for k in set(old) | set(settings) if old.get(k) != settings.get(k))
            raise ValueError(f'{path}: this folder was made with other settings ({changed}); '
                             'delete the folder to make it again')
    else:
        atomic_write_json(path, settings)


def _count(records_dir: str, stems: List[str]) -> Dict[str, int]:
    """Images with a class map (``kept``), without (``rejected``), and per-class verdicts."""
    counts = dict(images=len(stems), kept=0, rejected=0, class_kept=0, class_rejected=0,
                  class_empty_prompts=0)
    for stem in stems:
        with open(osp.join(records_dir, f'{stem}.json'), encoding='utf-8') as stream:
            record = json.load(stream)
        counts['kept' if record['written'] else 'rejected'] += 1
        for info in record['classes']:
            counts[f"class_{info['status']}"] += 1
    return counts

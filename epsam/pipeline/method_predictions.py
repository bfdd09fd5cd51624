"""What each method predicts on the test split, per task (read by step 7).

* binary: the positive test patches that have a CAM mask; foreground masks
  (bool) of the baselines (whole patch, CAM initial masks, CAM at Otsu's
  threshold) and of SAM prompted from the CAMs;
* multi-class: every test patch with a ground-truth mask; class maps of the
  CAMs and of SAM prompted per class (:class:`~epsam.pseudo_labels.ClassMapLabeller`).
"""
import os
import os.path as osp
from typing import Dict, List, NamedTuple, Optional, Sequence

import numpy as np
import torch

from epsam.cams.mask_makers import OtsuMaskMaker
from epsam.cams.recipe import cam_recipe
from epsam.fileio.cam_store import load_cam, load_label_png
from epsam.fileio.items import PseudoLabelItem, items_from_cam_dir
from epsam.fileio.patch_io import read_patch_mask
from epsam.pseudo_labels import PseudoLabelGenerator, class_items_from_cam_dir

from .context import PipelineContext
from .multiclass_stages import build_labeller
from .scoring import Predictions
from .stage_models import classifier_config, load_inference_sam
from .stage_names import CAM_STAGE


class TestSplit(NamedTuple):
    """The test split as step 7 scores it.

    Attributes:
        stems: Every scored image of the split, in the split's order.
        items: This rank's images (binary: :class:`PseudoLabelItem` with CAMs).
        truths: This rank's ground truths, ``stem -> (H, W)`` (binary: bool
            foreground; multi-class: class indices, 255 unlabelled).
        image_kind: What the images are, for the report's title.
    """
    stems: List[str]
    items: List
    truths: Dict[str, np.ndarray]
    image_kind: str


class Baseline(NamedTuple):
    """A row every method is measured against; ``uses_cams``: made from the CAMs."""
    name: str
    predictions: Predictions
    uses_cams: bool


# --- binary ------------------------------------------------------------------------
def ground_truth(ctx: PipelineContext, split: str, stem: str) -> np.ndarray:
    """The split's pixel mask of ``stem`` as bool foreground (H, W)."""
    path = osp.join(ctx.gt_mask_dir(split), f'{stem}.png')
    return read_patch_mask(path, binary=True) > 0


def evaluation_items(ctx: PipelineContext, split: str) -> List[PseudoLabelItem]:
    """The positive patches of ``split`` that have a CAM and an initial mask."""
    return items_from_cam_dir(ctx.image_dir(split), osp.join(ctx.stage_dir(CAM_STAGE), split))


def positive_test_split(ctx: PipelineContext) -> TestSplit:
    """The positive test patches with a CAM mask; this rank's batches of them."""
    split = ctx.cfg.test_split
    items = evaluation_items(ctx, split)
    if not items:
        raise RuntimeError(f'no positive {split} patch has a CAM mask: nothing to evaluate '
                           f'(see {osp.join(ctx.stage_dir(CAM_STAGE), split)}/summary.json)')
    mine = ctx.ranks.shard(items, ctx.cfg.evaluation.get('batch_size', 4))
    truths = {item.stem: ground_truth(ctx, split, item.stem) for item in mine}
    return TestSplit([item.stem for item in items], mine, truths, 'positive patches')


def describe_config(cfg: Dict) -> str:
    """``Type(key=value, ...)`` of a registry config, for row names."""
    cfg = dict(cfg)
    kind = cfg.pop('type', '?')
    return f"{kind}({', '.join(f'{k}={v}' for k, v in cfg.items())})"


def foreground_baselines(ctx: PipelineContext, test: TestSplit) -> List[Baseline]:
    """The rows every method is measured against: whole patch, CAM mask, CAM at Otsu."""
    otsu = OtsuMaskMaker()
    mask_maker = cam_recipe(classifier_config(ctx))['mask_maker']
    return [
        Baseline('whole patch (every pixel foreground)',
                 {stem: np.ones_like(truth) for stem, truth in test.truths.items()}, False),
        Baseline(f'CAM initial masks, {describe_config(mask_maker)}',
                 {item.stem: load_label_png(item.mask_path) == 1 for item in test.items}, True),
        Baseline('CAM at Otsu threshold',
                 {item.stem: otsu(load_cam(item.cam_path).cam[0]).astype(bool)
                  for item in test.items}, True),
    ]


def sam_prompted_masks(sam: torch.nn.Module, embedder: Optional[object], prompt: Dict,
                       items: Sequence[PseudoLabelItem], device: str = 'cpu', seed: int = 0,
                       batch_size: int = 4) -> Predictions:
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


def sam_foreground_masks(ctx: PipelineContext, checkpoint: Optional[str],
                         test: TestSplit) -> Predictions:
    """CAM-prompted foreground masks of this rank's items by the SAM of ``checkpoint``."""
    sam, embedder = load_inference_sam(ctx, checkpoint)
    section = ctx.cfg.evaluation
    return sam_prompted_masks(sam, embedder, section.prompt, test.items, ctx.device,
                              seed=section.get('seed', 0),
                              batch_size=section.get('batch_size', 4))


# --- multi-class -------------------------------------------------------------------
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


def labelled_test_split(ctx: PipelineContext, num_classes: int) -> TestSplit:
    """Every test patch with a ground-truth class map; its images with CAMs as items."""
    split = ctx.cfg.test_split
    stems = test_stems(ctx, split)
    truths = {stem: read_patch_mask(osp.join(ctx.gt_mask_dir(split), f'{stem}.png'),
                                    num_classes=num_classes) for stem in stems}
    items = class_items_from_cam_dir(ctx.image_dir(split),
                                     osp.join(ctx.stage_dir(CAM_STAGE), split))
    return TestSplit(stems, items, truths, 'patches')


def cam_class_maps(ctx: PipelineContext) -> Predictions:
    """The CAM step's class maps (initial masks) of the test split."""
    folder = osp.join(ctx.stage_dir(CAM_STAGE), ctx.cfg.test_split, 'masks')
    return {name[:-4]: load_label_png(osp.join(folder, name)) for name in sorted(
        os.listdir(folder)) if name.endswith('.png')}


def sam_class_maps(ctx: PipelineContext, checkpoint: Optional[str],
                   test: TestSplit) -> Predictions:
    """Class maps of the test images with CAMs, SAM of ``checkpoint`` prompted per class."""
    labeller = build_labeller(ctx, checkpoint, ctx.cfg.evaluation, dict(type='KeepAllSelector'))
    return {result.stem: result.class_map for result in labeller.label(test.items)}

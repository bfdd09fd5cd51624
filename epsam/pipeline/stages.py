"""The stages of the EP-SAM protocol (EP-SAM, arXiv 2410.13621), steps 1-7.

Each stage function reads its inputs from earlier stages' folders, writes its
own folder under the work dir, and returns a JSON-able record that the
pipeline stores as the stage's ``stage_done.json``.
"""
import json
import os.path as osp
import time
from typing import Dict, Tuple

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import DefaultScope

from epsam.cams.generation import generate_cams
from epsam.cams.recipe import cam_recipe
from epsam.engine.config_utils import apply_launcher
from epsam.engine.hooks import read_train_seconds
from epsam.fileio.items import items_from_cam_dir
from epsam.models.adapters import adapter_supports_cached_embeddings
from epsam.pseudo_labels import PseudoLabelGenerator
from epsam.registry import DATASETS

from .context import PipelineContext
from .stage_models import cam_classifier, classifier_config, load_inference_sam, set_seed
from .stage_names import CAM_STAGE, CLASSIFIER_STAGE, pseudo_label_stage, sam_tuning_stage
from .stage_training import load_stage_config, train_in_work_dir


def train_stage(ctx: PipelineContext, cfg: Config, stage: str) -> str:
    """Train ``cfg`` in the stage's folder: under DDP on every rank with a launcher.

    The process group exists already (:class:`~.distributed.PipelineRanks`),
    so mmengine's runner joins it instead of starting its own.
    """
    if ctx.ranks.distributed:
        cfg = apply_launcher(cfg, ctx.ranks.launcher)
    return train_in_work_dir(cfg, ctx.stage_dir(stage), stage)


def merged_report(ctx: PipelineContext, report) -> Dict:
    """A per-rank report as one record: counts summed over the ranks, as one process."""
    parts = ctx.ranks.gather(_as_record(report))
    merged = dict(parts[0], rank=0, world_size=1)
    for key, value in parts[0].items():
        if key not in ('rank', 'world_size', 'images') and isinstance(value, (int, float)) \
                and not isinstance(value, bool):
            merged[key] = sum(part[key] for part in parts)
    return merged


# --- step 1: the ADL patch classifier ------------------------------------------
def train_classifier(ctx: PipelineContext) -> Dict:
    start = time.time()
    work_dir = ctx.stage_dir(CLASSIFIER_STAGE)
    checkpoint = train_stage(ctx, classifier_config(ctx), CLASSIFIER_STAGE)
    # summed over the processes of a resumed training (TrainTimeHook)
    return dict(checkpoint=checkpoint, seconds=read_train_seconds(work_dir, time.time() - start),
                selection='patch labels only (cls/f1 on val) or last epoch')


def train_or_reuse_classifier(ctx: PipelineContext) -> Dict:
    """Train the classifier, or reuse ``classifier.checkpoint`` when the config gives one.

    ``classifier.checkpoint`` is a checkpoint file, or the work dir of another
    pipeline run whose finished classifier stage to reuse (same classifier
    config), e.g. a Grad-CAM variant reusing the CAM run's classifier.
    """
    given = ctx.cfg.classifier.get('checkpoint')
    if given:
        seconds = 0.0  # unknown for a bare checkpoint file
        record = osp.join(given, CLASSIFIER_STAGE, 'stage_done.json')
        if osp.isdir(given):
            if not osp.isfile(record):
                raise FileNotFoundError(f'classifier.checkpoint {given!r} is a folder without '
                                        f'a finished classifier stage ({record})')
            with open(record, encoding='utf-8') as stream:
                reused = json.load(stream)
            given, seconds = reused['checkpoint'], float(reused.get('seconds', 0.0))
        if not osp.isfile(given):
            raise FileNotFoundError(f'classifier.checkpoint {given!r} does not exist')
        return dict(checkpoint=osp.abspath(given), seconds=seconds,
                    selection=f'reused checkpoint {given} (classifier.checkpoint; seconds = '
                    'its original training time)')
    return train_classifier(ctx)


# --- step 2: CAMs and initial masks --------------------------------------------
def cam_dataset(ctx: PipelineContext, cfg: Config, split: str, **overrides):
    """The images of ``split`` as the CAM stage reads them (the classifier's test dataset).

    Args:
        ctx: The pipeline context.
        cfg: The classifier config (:func:`classifier_config`).
        split: A split of ``split_prefixes``.
        **overrides: Dataset settings on top (e.g. ``label_from``).
    """
    dataset_cfg = cfg.test_dataloader.dataset.copy()
    dataset_cfg.update(require_masks=False, pipeline=[dict(type='LoadPatchImage'),
                                                      dict(type='PackPatchInputs')],
                       **overrides)
    # Assigned, not merged: a split without masks must not keep the
    # test loader's seg_map_path (ConfigDict.update merges nested dicts).
    dataset_cfg['data_prefix'] = ctx.split_prefix(split)
    with DefaultScope.overwrite_default_scope('epsam'):
        return DATASETS.build(dataset_cfg)


#: ``split_labels`` value -> (dataset ``label_from``, ``generate_cams`` label_source).
LABEL_MODES = {'filename': ('filename', 'label'), 'mask': ('mask', 'label'),
               'prediction': ('none', 'prediction')}


def split_label_mode(ctx: PipelineContext, split: str) -> str:
    """Where the image labels of ``split`` come from (``split_labels``, multi-class).

    Default: the weak labels in the file names for the train split, the
    classifier's predictions for any other.
    """
    modes = dict(ctx.cfg.get('split_labels') or {})
    mode = modes.get(split, 'filename' if split == ctx.cfg.train_split else 'prediction')
    if mode not in LABEL_MODES:
        raise ValueError(f'split_labels[{split!r}] must be one of {sorted(LABEL_MODES)}, '
                         f'got {mode!r}')
    return mode


def generate_split_cams(ctx: PipelineContext, split_labels: bool = False,
                        sharded: bool = True) -> Dict:
    """CAMs and initial masks (binary masks or class maps) of ``cam_splits``.

    Args:
        ctx: The pipeline context.
        split_labels: Take each split's image labels where ``split_labels``
            says (:func:`split_label_mode`) and note it in the split's record
            (the multi-class task); ``False``: the dataset's own labels.
        sharded: Under a launcher each rank takes its batches, and rank 0
            writes each split's summary once every rank has finished;
            ``False``: this process does every item (the stage runs on rank 0
            alone).

    Returns:
        The stage record: per-split counts, seconds and the classifier checkpoint.
    """
    ranks = ctx.ranks
    start = time.time()
    cfg, model, checkpoint = cam_classifier(ctx)
    # The pipeline's ``cams`` when it has one (classifier_config), EP-SAM's defaults
    # for what it leaves out, as tools/generate_cams.py reads it.
    cams = cam_recipe(cfg)
    reports = {}
    with DefaultScope.overwrite_default_scope('epsam'):
        for split in ctx.cfg.cam_splits:
            mode = split_label_mode(ctx, split) if split_labels else None
            label_from, label_source = LABEL_MODES[mode] if mode else (None, 'label')
            dataset = cam_dataset(ctx, cfg, split,
                                  **(dict(label_from=label_from) if mode else {}))

            def run(rank: int, world_size: int):
                return generate_cams(
                    model, dataset, osp.join(ctx.stage_dir(CAM_STAGE), split),
                    cam_method=cams['method'], mask_maker=cams['mask_maker'],
                    batch_size=cams['batch_size'], only_positive=True,
                    label_source=label_source, device=ctx.device, checkpoint=checkpoint,
                    rank=rank, world_size=world_size)

            if sharded:
                report = run(ranks.rank, ranks.world_size)
                reports[split] = merged_report(ctx, report)  # a collective: every rank is done
                if ranks.is_main and report.summary is None:
                    run(0, 1)  # every item is done: checks the files and writes the summary
                ranks.barrier()
            else:
                reports[split] = _as_record(run(0, 1))
            if mode:
                reports[split]['labels'] = mode
            print_log(f'[pipeline] CAMs for {split}: {reports[split]}', logger='current')
    return dict(splits=reports, seconds=time.time() - start, checkpoint=checkpoint)


# --- steps 4 and 6: SAM tuning --------------------------------------------------
def sam_tuning_config(ctx: PipelineContext, mask_dir: str) -> Config:
    """The SAM tuning config for training on ``mask_dir`` (from the original SAM weights)."""
    section = ctx.cfg.sam_tuning
    cfg = load_stage_config(section.config, section.get('cfg_options'))
    set_seed(cfg, ctx)
    ctx.own_values(cfg, {'model.sam': ctx.sam_cfg}, section.config)
    if (ctx.embedding_cache_dir is not None
            and adapter_supports_cached_embeddings(cfg.model.get('adapter'))):
        cfg.model.embedding_cache = dict(cache_dir=ctx.embedding_cache_dir)
    dataset = cfg.train_dataloader.dataset
    dataset.img_dir = osp.abspath(ctx.image_dir(ctx.cfg.train_split))
    dataset.mask_dir = osp.abspath(mask_dir)
    train_prompt = section.get('train_prompt')
    if train_prompt is not None:
        # The pipeline picks the prompt kind (points, boxes, both) for every step.
        for transform in dataset.pipeline:
            if transform['type'] == 'GenerateMaskPrompts':
                transform['generator'] = train_prompt
    if cfg.get('test_dataloader') is not None:
        # Ready for tools/test.py: SAM prompted from the test split's CAMs as
        # the pipeline's own evaluation prompts it.
        split = ctx.cfg.test_split
        test_set = cfg.test_dataloader.dataset
        test_set.img_dir = osp.abspath(ctx.image_dir(split))
        test_set.mask_dir = osp.abspath(ctx.gt_mask_dir(split))
        for transform in test_set.pipeline:
            if transform['type'] == 'LoadCamPrompts':
                transform['cam_dir'] = osp.abspath(osp.join(ctx.stage_dir(CAM_STAGE), split))
                if ctx.cfg.get('evaluation', {}).get('prompt') is not None:
                    transform['generator'] = ctx.cfg.evaluation.prompt
    if ctx.uses_pixel_labels_for_selection:
        add_pixel_label_selection(ctx, cfg)
    return cfg


def add_pixel_label_selection(ctx: PipelineContext, cfg: Config) -> None:
    """Validate on the val split's ground-truth masks and keep the best epoch.

    This is what EP-SAM's code did; it leaks pixel supervision into a weakly
    supervised method, so it is off by default and every report says when it
    was on.
    """
    split = ctx.cfg.get('val_split', 'val')
    if split not in ctx.cfg.cam_splits:
        raise ValueError(f'model_selection.use_pixel_labels needs CAM prompts for the '
                         f'{split!r} split: add it to cam_splits')
    cfg.val_dataloader = dict(
        batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(
            type='SamMaskDataset', img_dir=osp.abspath(ctx.image_dir(split)),
            mask_dir=osp.abspath(ctx.gt_mask_dir(split)),
            pipeline=[
                dict(type='LoadPatchImage'),
                dict(type='LoadPatchAnnotations', binary=True),
                dict(type='LoadCamPrompts', generator=ctx.cfg.evaluation.prompt,
                     cam_dir=osp.abspath(osp.join(ctx.stage_dir(CAM_STAGE), split)),
                     missing_mask='empty'),
                dict(type='PackSamInputs'),
            ]))
    cfg.val_evaluator = dict(type='PerImageDiceMetric', foreground_index=1)
    cfg.val_cfg = dict(type='ValLoop')
    cfg.train_cfg.val_interval = 1
    cfg.default_hooks.checkpoint.update(save_best='Dice', rule='greater')


def train_sam(ctx: PipelineContext, iteration: int, cfg: Config,
              start: float) -> Tuple[str, float, str]:
    """Run SAM tuning ``iteration`` of ``cfg``; keep its config beside the checkpoints.

    Args:
        ctx: The pipeline context.
        iteration: The tuning iteration (its stage folder).
        cfg: The tuning config (:func:`sam_tuning_config`).
        start: When the stage started (``time.time()``).

    Returns:
        The checkpoint, the training seconds (summed over resumed runs) and how
        the checkpoint was selected.
    """
    stage = sam_tuning_stage(iteration)
    checkpoint = train_stage(ctx, cfg, stage)
    if ctx.ranks.is_main:
        cfg.dump(osp.join(ctx.stage_dir(stage), 'sam_tuning_config.py'))
    selection = ('best val Dice (GROUND-TRUTH PIXEL LABELS)'
                 if ctx.uses_pixel_labels_for_selection else 'last epoch (no pixel labels)')
    seconds = read_train_seconds(ctx.stage_dir(stage), time.time() - start)  # resumes summed
    return checkpoint, seconds, selection


def tune_sam(ctx: PipelineContext, iteration: int, mask_dir: str) -> Dict:
    """Re-train SAM (from the original weights) on the binary masks of ``mask_dir``."""
    start = time.time()
    checkpoint, seconds, selection = train_sam(ctx, iteration,
                                               sam_tuning_config(ctx, mask_dir), start)
    return dict(checkpoint=checkpoint, mask_dir=mask_dir, seconds=seconds, selection=selection)


# --- step 5: pseudo-labels ----------------------------------------------------
def make_pseudo_labels(ctx: PipelineContext, iteration: int, sam_checkpoint: str) -> Dict:
    start = time.time()
    stage = pseudo_label_stage(iteration)
    sam, embedder = load_inference_sam(ctx, sam_checkpoint)
    section = ctx.cfg.pseudo_labels
    generator = PseudoLabelGenerator(
        sam, section.prompt, section.selector, batch_size=section.get('batch_size', 4),
        device=ctx.device, cache=embedder, seed=section.get('seed', 0))
    items = items_from_cam_dir(ctx.image_dir(ctx.cfg.train_split),
                               osp.join(ctx.stage_dir(CAM_STAGE), ctx.cfg.train_split))
    ranks = ctx.ranks
    report = generator.run(items, ctx.stage_dir(stage), ranks.rank, ranks.world_size)
    images_encoded = merged_report(ctx, report)['images_encoded']  # every rank is done
    summary = report.summary
    if summary is None and ranks.is_main:
        summary = generator.summarise(items, ctx.stage_dir(stage))
    ranks.barrier()
    counts = {k: v for k, v in (summary or {}).items() if isinstance(v, (int, float))}
    print_log(f'[pipeline] pseudo-labels iteration {iteration}: {counts}', logger='current')
    return dict(mask_dir=osp.join(ctx.stage_dir(stage), 'masks'), counts=counts,
                images_encoded=images_encoded, seconds=time.time() - start)


def _as_record(report) -> Dict:
    """A report object as a JSON-able dict of its simple fields."""
    fields = vars(report) if hasattr(report, '__dict__') else dict(report)
    return {k: v for k, v in fields.items() if isinstance(v, (int, float, str, bool))}

"""The stages a pipeline config runs, in order, each with the fingerprint of what it reads.

What each stage's fingerprint holds (see :mod:`.fingerprints` for the item kinds):

==================================  ================================================
stage                               settings and inputs
==================================  ================================================
``step1_classifier``               ``classifier.*`` (``classifier.config``: the
                                    resolved file), ``seed``, ``data_root``, the
                                    image folders of the classifier config's loaders
                                    (masks of its val/test loaders); no folders when
                                    ``classifier.checkpoint`` is reused
``step2_cams``                     ``task``, ``cams``, ``cam_splits``, the
                                    ``split_prefixes`` and image folders of those
                                    splits (mask folders where ``split_labels`` says
                                    ``'mask'``), ``split_labels``; step 1
``step6_sam_tuning_iter{i}``       ``sam.*``, ``sam_tuning.*`` (``sam_tuning.config``
                                    resolved), ``seed``, ``model_selection``, the
                                    train split and its images (val split, its
                                    masks and ``evaluation.prompt`` with
                                    ``model_selection.use_pixel_labels``); step 2
                                    (iteration 0) or ``step5_pseudo_labels_iter{i}``
``step5_pseudo_labels_iter{i}``    ``pseudo_labels.*``, ``class_merge`` (multi-class),
                                    the train split and its images; step 2 and
                                    ``step6_sam_tuning_iter{i-1}``
``step7_evaluation``               ``evaluation.*``, ``iterations``, ``sam.*``,
                                    ``model_selection``, report names, the test
                                    split's images and masks; every other stage
==================================  ================================================

The device and the embedding cache are left out: the cache is keyed by
content, and the device changes bits, not settings.
"""
import os.path as osp
import re
from collections import OrderedDict
from typing import Any, Dict, Iterable, List, Optional, Tuple

from mmengine.config import Config

from epsam.utils.errors import UserError

from .context import PipelineContext
from .fingerprints import (FILES_PREFIX, UPSTREAM_PREFIX, Fingerprint, describe_changes, digest,
                           list_files, setting_value)
from .ledger import StageLedger
from .stage_names import (CAM_STAGE, CLASSIFIER_STAGE, EVALUATION_STAGE, STAGE_NAMES_HELP,
                          pseudo_label_stage, sam_tuning_stage)
from .stage_training import load_stage_config
from .stages import split_label_mode
from .tasks import build_task

__all__ = ['EVALUATION_STAGE', 'STAGE_NAMES_HELP', 'StaleStageError', 'UnknownStageError',
           'stage_order', 'stage_sequence', 'StageInputs', 'plan_stages', 'check_fingerprints']

_STAGE_NAME = re.compile(r'step1_classifier|step2_cams|step7_evaluation|'
                         r'step[46]_sam_tuning_iter(?P<tuning>\d+)|'
                         r'step5_pseudo_labels_iter(?P<pseudo>\d+)')


class StaleStageError(UserError, RuntimeError):
    """A stage in the work dir was made with other settings or inputs than the config's."""

    def __init__(self, stage: str, changes: List[str], unfinished: bool = False) -> None:
        made = 'was started' if unfinished else 'was made'
        label = f'{stage} (unfinished)' if unfinished else stage
        super().__init__(
            f"{label} {made} with other settings: {', '.join(changes)}; rerun with "
            f'--restart-from {stage} to redo it and every later stage, or use another '
            '--work-dir')
        self.stage = stage
        self.changes = changes


class UnknownStageError(UserError, ValueError):
    """``--restart-from`` names no stage of the config."""


def stage_order(name: str) -> Optional[Tuple[int, ...]]:
    """Sort key of a stage name in run order, or ``None`` when ``name`` is no stage name.

    Args:
        name: A folder name, e.g. ``'step5_pseudo_labels_iter2'``.
    """
    match = _STAGE_NAME.fullmatch(name)
    if match is None:
        return None
    if match.group('tuning') is not None:
        return (2, int(match.group('tuning')), 1)
    if match.group('pseudo') is not None:
        return (2, int(match.group('pseudo')), 0)
    return {CLASSIFIER_STAGE: (0, ), CAM_STAGE: (1, ), EVALUATION_STAGE: (3, )}[name]


def stage_sequence(iterations: int, use_sam: bool = True) -> List[str]:
    """The stage names a run goes through, in order.

    Args:
        iterations: Pseudo-label / re-tuning rounds after the preliminary tuning.
        use_sam: ``False`` (multi-class CAM baselines) runs no SAM stage.
    """
    names = [CLASSIFIER_STAGE, CAM_STAGE]
    if use_sam:
        names.append(sam_tuning_stage(0))
        for iteration in range(1, iterations + 1):
            names += [pseudo_label_stage(iteration), sam_tuning_stage(iteration)]
    return names + [EVALUATION_STAGE]


class StageInputs:
    """Fingerprint items of a pipeline context; folders and sub-configs are read once.

    Args:
        ctx: The pipeline context.
    """

    def __init__(self, ctx: PipelineContext) -> None:
        self.ctx = ctx
        self._listings: Dict[str, Any] = {}
        self._configs: Dict[str, str] = {}

    def config_digest(self, path: str) -> str:
        """Digest of a resolved sub-config (its ``_base_`` files merged), not of its path."""
        if path not in self._configs:
            self._configs[path] = (digest(Config.fromfile(path).to_dict())
                                   if osp.isfile(path) else f'missing file {path}')
        return self._configs[path]

    def setting(self, key: str) -> Dict[str, Any]:
        """Items of a top-level setting: one per key of a dict (``sam.variant``), else one.

        A ``config`` key holding a file path stands for the resolved file's content.
        """
        value = self.ctx.cfg.get(key)
        if not isinstance(value, dict) or not value:
            return {key: setting_value(value)}
        items = {}
        for name, sub in value.items():
            if name == 'config' and isinstance(sub, str):
                items[f'{key}.config'] = self.config_digest(sub)
            else:
                items[f'{key}.{name}'] = setting_value(sub)
        return items

    def files(self, folder: str) -> Dict[str, Any]:
        """``files:{folder}``: the listing of a folder relative to ``data_root``."""
        if folder not in self._listings:
            self._listings[folder] = list_files(osp.join(self.ctx.data_root, folder))
        return {FILES_PREFIX + folder: self._listings[folder]}

    def split(self, split: str, masks: bool = False) -> Dict[str, Any]:
        """``data_root``, ``split_prefixes.{split}`` and the split's image (and mask) files."""
        prefix = self.ctx.split_prefix(split)
        items = {'data_root': setting_value(self.ctx.data_root),
                 f'split_prefixes.{split}': setting_value(prefix)}
        items.update(self.files(prefix['img_path']))
        if masks and prefix.get('seg_map_path'):
            items.update(self.files(prefix['seg_map_path']))
        return items

    def classifier_folders(self) -> Dict[str, Any]:
        """``data_root`` and the folders the classifier config's loaders read."""
        section = self.ctx.cfg.classifier
        if section.get('checkpoint'):
            return {}  # reused, not trained: its training data is not read
        cfg = load_stage_config(section.config, section.get('cfg_options'))
        items = {'data_root': setting_value(self.ctx.data_root)}
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            dataset = (cfg.get(loader) or {}).get('dataset') or {}
            while 'data_prefix' not in dataset and isinstance(dataset.get('dataset'), dict):
                dataset = dataset['dataset']  # dataset wrappers
            prefix = dataset.get('data_prefix') or {}
            keys = ['img_path'] if loader == 'train_dataloader' else ['img_path', 'seg_map_path']
            for key in keys:
                if prefix.get(key):
                    items.update(self.files(prefix[key]))
        return items


def _merge(parts: Iterable[Dict[str, Any]]) -> Dict[str, Any]:
    items: Dict[str, Any] = {}
    for part in parts:
        items.update(part)
    return items


def plan_stages(ctx: PipelineContext, iterations: int) -> 'OrderedDict[str, Fingerprint]':
    """Every stage the config runs, in order, with its fingerprint (nothing is run).

    Args:
        ctx: The pipeline context (config, data).
        iterations: The config's pseudo-label / re-tuning rounds.

    Returns:
        Stage name -> :class:`~.fingerprints.Fingerprint`.
    """
    cfg = ctx.cfg
    multiclass = cfg.get('task', 'binary') == 'multiclass'
    use_sam = build_task(cfg).uses_sam
    src = StageInputs(ctx)
    plan: 'OrderedDict[str, Fingerprint]' = OrderedDict()

    def add(stage: str, parts: Iterable[Dict[str, Any]], upstream: Iterable[str]) -> None:
        items = _merge(parts)
        items.update({UPSTREAM_PREFIX + name: plan[name].digest for name in upstream})
        plan[stage] = Fingerprint(items)

    add(CLASSIFIER_STAGE, [src.setting('classifier'), src.setting('seed'),
                           src.classifier_folders()], [])
    cam_parts = [src.setting('task'), src.setting('cams'), src.setting('cam_splits')]
    if multiclass:
        cam_parts.append(src.setting('split_labels'))
    for split in cfg.cam_splits:
        masks = multiclass and split_label_mode(ctx, split) == 'mask'
        cam_parts.append(src.split(split, masks=masks))
    add(CAM_STAGE, cam_parts, [CLASSIFIER_STAGE])

    train = cfg.train_split
    if use_sam:
        tuning = [src.setting('sam'), src.setting('sam_tuning'), src.setting('seed'),
                  src.setting('model_selection'), src.setting('train_split'), src.split(train)]
        if ctx.uses_pixel_labels_for_selection:
            val = cfg.get('val_split', 'val')
            tuning += [src.setting('val_split'), src.split(val, masks=True),
                       {'evaluation.prompt': setting_value(cfg.evaluation.get('prompt'))}]
        pseudo = [src.setting('pseudo_labels'), src.setting('train_split'), src.split(train)]
        if multiclass:
            pseudo.append(src.setting('class_merge'))
        add(sam_tuning_stage(0), tuning, [CAM_STAGE])
        for iteration in range(1, iterations + 1):
            add(pseudo_label_stage(iteration), pseudo,
                [CAM_STAGE, sam_tuning_stage(iteration - 1)])
            add(sam_tuning_stage(iteration), tuning, [pseudo_label_stage(iteration)])

    evaluation = [src.setting('evaluation'), {'iterations': iterations},
                  src.setting('model_selection'), src.setting('method_name'),
                  src.setting('dataset_name'), src.setting('test_split'),
                  src.split(cfg.test_split, masks=True)]
    if use_sam:
        evaluation.append(src.setting('sam'))
    if multiclass:
        evaluation += [src.setting('use_sam'), src.setting('cam_name'),
                       src.setting('class_merge')]
    else:
        evaluation.append(src.split(train))  # picture grids of train patches
    add(EVALUATION_STAGE, evaluation, list(plan))
    return plan


def check_fingerprints(ledger: StageLedger, plan: Dict[str, Fingerprint],
                       until: Optional[str] = None) -> List[str]:
    """Refuse a work dir whose stages were made from other settings or inputs.

    Finished stages are compared by their ``stage_done.json``; unfinished
    ones that left a ``stage_started.json`` by that (their items would be
    resumed).

    Args:
        ledger: The work dir's stage ledger.
        plan: :func:`plan_stages` of the current config.
        until: Check only the stages before this one (``--restart-from``
            redoes it and the later ones); it must be a stage of ``plan``.

    Returns:
        The finished stages whose records predate fingerprints (older epsam):
        they are reused unchecked.

    Raises:
        StaleStageError: The first stage, in run order, whose recorded
            fingerprint differs (the message names the changed items).
    """
    if until is not None and until not in plan:
        raise UnknownStageError(f'--restart-from {until!r} is not a stage of this config; use '
                                f"one of: {', '.join(plan)}")
    unchecked = []
    for stage, fingerprint in plan.items():
        if stage == until:
            break
        unfinished = not ledger.is_done(stage)
        record = ledger.started(stage) if unfinished else ledger.record(stage)
        if record is None:
            continue
        recorded = Fingerprint.from_record(record)
        if recorded is None:
            if not unfinished:
                unchecked.append(stage)
            continue
        if recorded.digest != fingerprint.digest:
            raise StaleStageError(stage, describe_changes(recorded, fingerprint), unfinished)
    return unchecked

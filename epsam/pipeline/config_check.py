"""Check a pipeline config before any stage runs.

:func:`validate_pipeline_config` is the first thing both runners do (binary
and multi-class, through :meth:`EPSAMPipeline.run`), so a typo stops the run
in a second instead of after hours of classifier training. Each problem is
one line naming the key and what to do; all problems are reported together:

* unknown top-level keys, with a did-you-mean suggestion (:mod:`difflib`);
* ``sam``: a registered variant, only :func:`~epsam.models.sam.build_sam`'s
  arguments (``variant``, ``checkpoint``, ``pretrained`` and the variant's
  fields), an existing ``checkpoint``;
* paths: ``data_root``, the train and test splits' folders, the classifier
  and SAM tuning configs, ``classifier.checkpoint``;
* values: ``task``, ``iterations`` (a non-negative int), ``cam_splits``.

Helper variables: a config may define names it uses inside its settings
(``box_prompt = dict(...)`` then ``evaluation = dict(prompt=box_prompt)``).
mmengine keeps them as top-level keys, so a key that is no pipeline setting
is accepted when (1) its name starts with ``_``, or (2) its value is a
non-empty dict, list, tuple or string found as a value inside a known setting
(the config used it) and its name is not a near-miss of a known key
(``iteratons``, ``test_splt`` are typos whatever their value). Numbers and
booleans never count as used: ``1`` or ``True`` appear everywhere. Ordinary
configs need no annotation.
"""
import dataclasses
import difflib
import json
import os
import os.path as osp
from typing import Any, Iterator, List, Optional, Set

from mmengine.config import Config

from epsam.models.sam.building.variants import SAM_VARIANTS
from epsam.utils.errors import UserError

from .fingerprints import jsonable

__all__ = ['TASKS', 'PIPELINE_KEYS', 'MMENGINE_KEYS', 'PipelineConfigError',
           'pipeline_config_problems', 'validate_pipeline_config', 'is_helper_variable']

#: Protocols a pipeline config can name with ``task``.
TASKS = ('binary', 'multiclass')
#: Every top-level key the pipeline reads.
PIPELINE_KEYS = (
    'task', 'method_name', 'dataset_name', 'cam_name', 'data_root', 'split_prefixes',
    'train_split', 'test_split', 'val_split', 'cam_splits', 'split_labels', 'classifier',
    'cams', 'use_sam', 'sam', 'sam_tuning', 'embedding_cache', 'pseudo_labels', 'class_merge',
    'iterations', 'evaluation', 'model_selection', 'seed')
#: Keys mmengine itself reads from any config.
MMENGINE_KEYS = ('_base_', 'custom_imports', 'default_scope')
#: ``build_sam`` arguments besides the variant's fields.
SAM_ARGUMENTS = ('variant', 'checkpoint', 'pretrained', 'fused_attention')
#: A name at least this close (difflib ratio) to a known key is a typo, never a helper.
TYPO_CUTOFF = 0.8
#: Suggestions are at least this close.
SUGGEST_CUTOFF = 0.6


class PipelineConfigError(UserError, ValueError):
    """The pipeline config has problems; the message lists them, one per line.

    Args:
        problems: One line per problem, each naming the key and the fix.
        source: The config file, when known.
    """

    def __init__(self, problems: List[str], source: Optional[str] = None) -> None:
        head = f'pipeline config {source}' if source else 'pipeline config'
        if len(problems) == 1:
            message = f'{head}: {problems[0]}'
        else:
            message = f'{head} has {len(problems)} problems:\n' + '\n'.join(
                f'  - {problem}' for problem in problems)
        super().__init__(message)
        self.problems = problems


def _did_you_mean(name: str, candidates: List[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=SUGGEST_CUTOFF)
    return f'; did you mean {close[0]!r}?' if close else ''


def _where(path: str) -> str:
    return '' if osp.isabs(path) else f' (relative to {os.getcwd()})'


def _inner_values(value: Any) -> Iterator[Any]:
    """``value`` and every value nested inside it (dict values, list items)."""
    yield value
    if isinstance(value, dict):
        for inner in value.values():
            yield from _inner_values(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _inner_values(inner)


def _used_values(cfg: Config) -> Set[str]:
    """JSON of every value inside the known settings of ``cfg``."""
    used = set()
    for key in PIPELINE_KEYS:
        if key in cfg:
            for value in _inner_values(jsonable(cfg[key])):
                used.add(json.dumps(value, sort_keys=True))
    return used


def is_helper_variable(key: str, value: Any, used: Set[str]) -> bool:
    """Whether an unknown top-level key is a helper variable of the config.

    Args:
        key: The top-level name.
        value: Its value.
        used: :func:`_used_values` of the config.
    """
    if key.startswith('_'):
        return True
    if difflib.get_close_matches(key, PIPELINE_KEYS, n=1, cutoff=TYPO_CUTOFF):
        return False
    value = jsonable(value)
    if not isinstance(value, (dict, list, str)) or not value:
        return False
    return json.dumps(value, sort_keys=True) in used


def _key_problems(cfg: Config) -> List[str]:
    known = set(PIPELINE_KEYS) | set(MMENGINE_KEYS)
    used = _used_values(cfg)
    problems = []
    for key in cfg.keys():
        if key in known or is_helper_variable(key, cfg[key], used):
            continue
        hint = _did_you_mean(key, list(PIPELINE_KEYS))
        if not hint:
            hint = ("; remove it (a helper variable must be used in a setting, or be named "
                    f"'_{key}')")
        problems.append(f'{key} is not a pipeline setting{hint}')
    return problems


def _sam_problems(sam: Any) -> List[str]:
    if sam is None:
        return ["sam is missing; set sam = dict(variant='vit_b', checkpoint=None) (or another "
                'registered variant)']
    if not isinstance(sam, dict):
        return [f'sam must be a dict of build_sam arguments, got {sam!r}']
    problems = []
    variant = sam.get('variant', 'vit_b')
    spec = SAM_VARIANTS.get(variant)
    if spec is None:
        problems.append(f'sam.variant {variant!r} is not a registered SAM variant'
                        f'{_did_you_mean(str(variant), sorted(SAM_VARIANTS))} (registered: '
                        f'{", ".join(sorted(SAM_VARIANTS))})')
    fields = ({f.name for f in dataclasses.fields(spec)} - {'name'} if spec is not None else
              {f.name for v in SAM_VARIANTS.values() for f in dataclasses.fields(v)} - {'name'})
    allowed = sorted(set(SAM_ARGUMENTS) | fields)
    unknown = [key for key in sam if key not in allowed]
    for key in unknown:
        problems.append(f'sam.{key} is not an argument of build_sam'
                        f'{_did_you_mean(key, allowed)} (sam takes {", ".join(SAM_ARGUMENTS)} '
                        f"and the fields of {f'variant {variant!r}' if spec else 'its variant'})")
    overrides = {k: v for k, v in sam.items() if k in fields}
    if spec is not None and overrides and not unknown:
        try:
            spec.replace(**overrides)
        except (TypeError, ValueError) as err:
            problems.append(f'sam: {err}')
    checkpoint = sam.get('checkpoint')
    if checkpoint and not osp.isfile(str(checkpoint)):
        problems.append(f'sam.checkpoint {checkpoint!r} does not exist{_where(str(checkpoint))}; '
                        'give the SAM weights file, or None')
    return problems


def _split_problems(cfg: Config) -> List[str]:
    problems = []
    root = cfg.get('data_root')
    if not root:
        return ['data_root is missing; set it to the dataset folder (--cfg-options '
                'data_root=PATH)']
    if not osp.isdir(str(root)):
        return [f'data_root {root!r} does not exist{_where(str(root))}; set it to the dataset '
                'folder (--cfg-options data_root=PATH)']
    prefixes = cfg.get('split_prefixes') or {}
    for role, need_masks in (('train_split', False), ('test_split', True)):
        split = cfg.get(role)
        if split is None:
            problems.append(f'{role} is missing; name a key of split_prefixes')
            continue
        if split not in prefixes:
            problems.append(f'{role} {split!r} has no split_prefixes[{split!r}]; add '
                            f'split_prefixes[{split!r}] = dict(img_path=...) or fix {role}')
            continue
        keys = ('img_path', 'seg_map_path') if need_masks else ('img_path', )
        for key in keys:
            folder = prefixes[split].get(key)
            if folder is None:
                problems.append(f'split_prefixes[{split!r}].{key} is missing; the pipeline '
                                f'reads the {split} split from it')
            elif not osp.isdir(osp.join(root, folder)):
                problems.append(f'split_prefixes[{split!r}].{key}: folder '
                                f'{osp.join(root, folder)!r} does not exist; fix data_root or '
                                f'split_prefixes[{split!r}]')
    return problems


def _file_problems(cfg: Config, uses_sam: bool) -> List[str]:
    problems = []
    sections = [('classifier', 'the step-1 classifier config (configs/adl_cam/adl-cam_*.py)')]
    if uses_sam:
        sections.append(('sam_tuning', 'the SAM tuning config (configs/sam_tuning/sam-*.py)'))
    for section, what in sections:
        value = cfg.get(section)
        if not isinstance(value, dict) or not value.get('config'):
            problems.append(f'{section}.config is missing; give {what}')
        elif not osp.isfile(value['config']):
            problems.append(f"{section}.config {value['config']!r} does not exist"
                            f"{_where(value['config'])}; give {what}")
    checkpoint = (cfg.get('classifier') or {}).get('checkpoint')
    if checkpoint and not osp.exists(checkpoint):
        problems.append(f'classifier.checkpoint {checkpoint!r} does not exist{_where(checkpoint)}; '
                        'give a checkpoint file or the work dir of a finished pipeline run')
    return problems


def _value_problems(cfg: Config) -> List[str]:
    problems = []
    task = cfg.get('task', 'binary')
    if task not in TASKS:
        problems.append(f'task must be one of {TASKS}, got {task!r}')
    iterations = cfg.get('iterations', 3)
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0:
        problems.append(f'iterations must be a non-negative int, got {iterations!r}')
    cam_splits = cfg.get('cam_splits')
    if not isinstance(cam_splits, (list, tuple)):
        problems.append(f'cam_splits must be a list of split names, got {cam_splits!r}')
    else:
        for role in ('train_split', 'test_split'):
            if cfg.get(role) is not None and cfg.get(role) not in cam_splits:
                problems.append(f'cam_splits {tuple(cam_splits)} lacks {role} '
                                f'{cfg.get(role)!r}; the pipeline needs its CAMs')
        prefixes = cfg.get('split_prefixes') or {}
        for split in cam_splits:
            if split not in prefixes and split not in (cfg.get('train_split'),
                                                       cfg.get('test_split')):
                problems.append(f'cam_splits names {split!r}, which has no split_prefixes'
                                f'[{split!r}]; add it or drop {split!r} from cam_splits')
    return problems


def pipeline_config_problems(cfg: Config) -> List[str]:
    """Every problem of a pipeline config, one line each (empty when it is fine).

    Args:
        cfg: The pipeline config, with ``--cfg-options`` merged in.
    """
    multiclass = cfg.get('task', 'binary') == 'multiclass'
    uses_sam = not multiclass or bool(cfg.get('use_sam', True))
    problems = _value_problems(cfg) + _key_problems(cfg)
    if uses_sam:
        problems += _sam_problems(cfg.get('sam'))
    return problems + _split_problems(cfg) + _file_problems(cfg, uses_sam)


def validate_pipeline_config(cfg: Config) -> None:
    """Raise :class:`PipelineConfigError` listing every problem of ``cfg``, if any.

    Args:
        cfg: The pipeline config, with ``--cfg-options`` merged in.
    """
    problems = pipeline_config_problems(cfg)
    if problems:
        raise PipelineConfigError(problems, getattr(cfg, 'filename', None))

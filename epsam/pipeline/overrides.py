"""The pipeline config owns shared values; what it overrides in a stage's config is logged.

A pipeline config names other configs (the classifier's, SAM tuning's) and
holds the values every stage must agree on: the data folders of each split,
the SAM and its checkpoint, the CAM recipe. Each stage config is loaded, then
:func:`apply_pipeline_values` writes those values into it. A value the stage
config set to something else is not dropped silently: one log line names the
config file, the key, the pipeline's value and the value it replaced, and the
stage record keeps the list.
"""
import logging
from typing import Any, Dict, List, Mapping, Optional, Set, Tuple

from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log

__all__ = ['Override', 'apply_pipeline_values', 'describe_override']

_MISSING = object()

#: One replaced value: ``dict(config=..., key=..., pipeline=..., replaced=...)``.
Override = Dict[str, Any]


def _plain(value: Any) -> Any:
    """A config value as plain Python, so ``ConfigDict`` and ``dict`` compare equal."""
    if isinstance(value, ConfigDict):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _parent(cfg: Config, key: str, create: bool) -> Optional[Any]:
    """The mapping holding the last part of the dotted ``key`` (``None`` if absent)."""
    node: Any = cfg
    for part in key.split('.')[:-1]:
        if part not in node or node[part] is None:
            if not create:
                return None
            node[part] = ConfigDict()
        node = node[part]
        if not isinstance(node, Mapping):
            raise KeyError(f'{key}: {part!r} is not a dict in the config, so the pipeline '
                           'cannot set a key below it')
    return node


def describe_override(override: Override) -> str:
    """One log line for a replaced value."""
    return (f'[pipeline] {override["config"]}: {override["key"]} = {override["pipeline"]!r} '
            f'from the pipeline config (the config said {override["replaced"]!r})')


def apply_pipeline_values(cfg: Config, values: Mapping[str, Any], config_name: str,
                          logger: Optional[Any] = None,
                          reported: Optional[Set[Tuple[str, str]]] = None) -> List[Override]:
    """Write the pipeline's ``values`` into a stage config; log each value they replace.

    Args:
        cfg: The stage's config (modified in place).
        values: Dotted keys (``'model.sam'``,
            ``'train_dataloader.dataset.data_prefix'``) and the pipeline's values.
        config_name: How the log names ``cfg`` (its file).
        logger: An mmengine logger or its name (default: the current one).
        reported: ``(config_name, key)`` pairs already logged; a pair in it is
            not logged again, and each logged pair is added (a stage config is
            loaded by several stages, and the log says it once).

    Returns:
        The replaced values: keys the stage config set to something else
        (keys it left unset or ``None`` are filled in without a line).
    """
    replaced: List[Override] = []
    for key, value in values.items():
        parent = _parent(cfg, key, create=True)
        leaf = key.split('.')[-1]
        old = parent.get(leaf, _MISSING)
        if old is not _MISSING and old is not None and _plain(old) != _plain(value):
            override = dict(config=config_name, key=key, pipeline=_plain(value),
                            replaced=_plain(old))
            replaced.append(override)
            if reported is None or (config_name, key) not in reported:
                print_log(describe_override(override), logger=logger or 'current',
                          level=logging.INFO)
            if reported is not None:
                reported.add((config_name, key))
        parent[leaf] = value
    return replaced

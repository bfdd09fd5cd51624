"""Every config under configs/ loads, and every ``type`` it names is registered."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

import epsam  # noqa: F401
from epsam import registry
from tests.conftest import REPO_ROOT

ALL_CONFIGS = sorted(glob.glob(str(REPO_ROOT / 'configs' / '**' / '*.py'), recursive=True))
FULL_CONFIGS = [p for p in ALL_CONFIGS if '_base_' not in p and '/benchmarks/' not in p]
PIPELINE_CONFIGS = [p for p in FULL_CONFIGS if osp.basename(p).startswith('epsam-pipeline_')]
REGISTRIES = [registry.MODELS, registry.DATASETS, registry.TRANSFORMS, registry.METRICS,
              registry.HOOKS, registry.OPTIM_WRAPPERS, registry.OPTIMIZERS,
              registry.PARAM_SCHEDULERS, registry.LOOPS, registry.DATA_SAMPLERS,
              registry.VISUALIZERS, registry.VISBACKENDS, registry.CAM_METHODS,
              registry.MASK_MAKERS, registry.PROMPT_GENERATORS,
              registry.PSEUDO_LABEL_SELECTORS, registry.WEIGHT_INITIALIZERS,
              registry.OPTIM_WRAPPER_CONSTRUCTORS]


def test_config_lists_are_not_empty():
    assert len(FULL_CONFIGS) >= 10 and PIPELINE_CONFIGS


def _types(node):
    if isinstance(node, dict):
        if isinstance(node.get('type'), str):
            yield node['type']
        for value in node.values():
            yield from _types(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _types(value)


def _registered(name: str) -> bool:
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('epsam'):
        return any(reg.get(name) is not None for reg in REGISTRIES) or name in (
            'default_collate', 'pseudo_collate')


@pytest.mark.parametrize('path', FULL_CONFIGS, ids=lambda p: osp.relpath(p, REPO_ROOT))
def test_config_loads_and_names_registered_types(path):
    cfg = Config.fromfile(path)
    if path in PIPELINE_CONFIGS:
        sections = [s for s in ('classifier', 'sam_tuning') if cfg.get(s)]
        assert 'classifier' in sections
        for section in sections:
            assert osp.isfile(REPO_ROOT / cfg[section].config), cfg[section].config
        return
    assert cfg.get('default_scope') == 'epsam'
    unknown = sorted({t for t in _types(cfg.to_dict()) if not _registered(t)})
    assert not unknown, f'{path}: unregistered types {unknown}'


@pytest.mark.parametrize('path', FULL_CONFIGS, ids=lambda p: osp.relpath(p, REPO_ROOT))
def test_config_name_says_method_schedule_and_dataset(path):
    name = osp.splitext(osp.basename(path))[0]
    parts = name.split('_')
    assert len(parts) >= 3, f'{name}: expected {{method}}_{{components}}_{{schedule}}_{{data}}'

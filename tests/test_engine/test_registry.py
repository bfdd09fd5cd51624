"""epsam's registries: children of mmseg's, custom_imports of a user's module."""
import pytest
from mmengine.config import Config

from tests.conftest import REPO_ROOT, USER_PROJECT


def test_registries_are_children_of_mmseg():
    from mmseg.registry import DATASETS as MMSEG_DATASETS
    from mmseg.registry import MODELS as MMSEG_MODELS

    from epsam.registry import DATASETS, MODELS
    assert MODELS.parent is MMSEG_MODELS and DATASETS.parent is MMSEG_DATASETS
    assert MODELS.scope == 'epsam'
    # mmseg's and mmengine's classes are reachable from epsam's scope.
    assert MODELS.get('EncoderDecoder').__name__ == 'EncoderDecoder'
    assert DATASETS.get('ADE20KDataset').__name__ == 'ADE20KDataset'


def test_own_registries_exist():
    from epsam import registry
    for name in ('SAM_BUILDERS', 'CAM_METHODS', 'MASK_MAKERS', 'PROMPT_GENERATORS',
                 'PSEUDO_LABEL_SELECTORS'):
        assert getattr(registry, name).scope == 'epsam'


def test_custom_imports_registers_a_user_module_from_outside_the_package(monkeypatch):
    monkeypatch.syspath_prepend(str(USER_PROJECT))
    cfg = Config.fromfile(str(USER_PROJECT / 'toy_regression_config.py'))
    # The config inherits epsam's runtime through a relative ``_base_`` path.
    assert cfg.default_scope == 'epsam'
    assert any(h['type'] == 'WeightsOnlyCheckpointHook' for h in cfg.custom_hooks)

    from mmengine.registry import DefaultScope

    from epsam.registry import MODELS
    with DefaultScope.overwrite_default_scope('epsam'):
        model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'ToyNoisyRegressor'
    assert type(model).__module__ == 'toy_modules'


def test_hooks_are_registered():
    from epsam.registry import HOOKS
    assert HOOKS.get('WeightsOnlyCheckpointHook') is not None
    assert HOOKS.get('ReseedHook') is not None
    with pytest.raises(ValueError, match='per must be'):
        HOOKS.build(dict(type='ReseedHook', per='week'))


def test_repo_root_layout():
    for path in ('epsam', 'configs', 'tools', 'tests', 'setup.cfg', 'README.md',
                 'requirements/runtime.txt', 'requirements/tests.txt',
                 'requirements/wsi.txt', 'requirements/lint.txt', 'requirements.txt'):
        assert (REPO_ROOT / path).exists(), path

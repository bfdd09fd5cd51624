"""A typo in a config's type name: the tools suggest the closest registered names."""
import importlib.util

import pytest
import torch
from mmengine.registry import init_default_scope

import epsam  # noqa: F401
from epsam.datasets.synthetic import generate_camelyon_like
from epsam.registry import DATASETS, HOOKS, MODELS, TRANSFORMS
from epsam.utils.registry_hints import (explain_unknown_types, find_registry, registered_names,
                                        suggest_names, unknown_type_message)
from tests.conftest import REPO_ROOT

from .conftest import HERE

pytestmark = pytest.mark.faults

TYPO_CONFIG = HERE / 'configs' / 'typo_model.py'
EXPECTED = "Unknown type 'CAMClasifier' in the model registry; did you mean 'CAMClassifier'?"


def load_tool(name):
    spec = importlib.util.spec_from_file_location(name.replace('/', '_'), REPO_ROOT / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_error(registry, cfg):
    init_default_scope('epsam')
    with pytest.raises(KeyError) as info:
        registry.build(cfg)
    return info.value


def test_registered_names_include_the_parents():
    names = registered_names(MODELS)
    assert 'CAMClassifier' in names and 'EncoderDecoder' in names  # epsam's and mmseg's
    assert 'NaNGuardHook' in registered_names(HOOKS) and 'CheckpointHook' in \
        registered_names(HOOKS)
    assert find_registry('model', 'epsam') is MODELS


@pytest.mark.parametrize('registry,typo,expected', [
    (MODELS, 'CAMClasifier', ['CAMClassifier']),
    (HOOKS, 'NanGuardHook', ['NaNGuardHook']),
    (TRANSFORMS, 'LoadPatchImag', ['LoadPatchImage']),
    (DATASETS, 'CamelyonPatchDatset', ['CamelyonPatchDataset']),
])
def test_typos_get_the_closest_registered_name_first(registry, typo, expected):
    message = unknown_type_message(build_error(registry, dict(type=typo)))
    assert message.startswith(f"Unknown type '{typo}' in the {registry.name} registry; "
                              f"did you mean '{expected[0]}'")


def test_nested_typo_and_no_close_name():
    error = build_error(DATASETS, dict(type='CamelyonPatchDataset', data_root='x',
                                       lazy_init=True, pipeline=[dict(type='LoadPatchImag')]))
    assert "Unknown type 'LoadPatchImag' in the transform registry" in \
        unknown_type_message(error)
    message = unknown_type_message(build_error(MODELS, dict(type='Qwxzv')))
    assert 'no registered name is close' in message
    assert unknown_type_message(KeyError('some other key')) is None
    assert suggest_names('camclassifier', ['CAMClassifier', 'Other']) == ['CAMClassifier']


def test_other_errors_pass_through_unchanged():
    with pytest.raises(KeyError, match='unrelated'):
        with explain_unknown_types():
            raise KeyError('unrelated')


def test_train_tool_suggests_the_name(tmp_path):
    with pytest.raises(SystemExit) as info:
        load_tool('tools/train.py').main([str(TYPO_CONFIG), '--work-dir', str(tmp_path)])
    assert str(info.value) == f'error: {EXPECTED}'


def test_test_tool_suggests_the_name(tmp_path):
    checkpoint = tmp_path / 'any.pth'
    torch.save({}, checkpoint)
    with pytest.raises(SystemExit) as info:
        load_tool('tools/test.py').main([str(TYPO_CONFIG), str(checkpoint),
                                         '--work-dir', str(tmp_path)])
    assert str(info.value) == f'error: {EXPECTED}'


def test_pipeline_tool_suggests_the_name(tmp_path):
    config = REPO_ROOT / 'configs' / 'epsam' / \
        'epsam-pipeline_r18tiny-cam_sam-tiny-decoder_3iter_synthetic-camelyon-128x128.py'
    # The config check (before any stage) wants the data to exist.
    generate_camelyon_like(str(tmp_path / 'data'), num_train=4, num_val=2, num_test=2,
                           patch_size=32, seed=1)
    with pytest.raises(SystemExit) as info:
        load_tool('tools/run_pipeline.py').main([
            str(config), '--work-dir', str(tmp_path / 'work'), '--cfg-options',
            f'classifier.config={TYPO_CONFIG}', f"data_root={tmp_path / 'data'}"])
    assert str(info.value) == f'error: {EXPECTED}'

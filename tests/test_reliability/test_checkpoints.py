"""Checkpoints that must be refused: pickled code, truncated files, another model's weights.

Every loader epsam uses reads with ``torch.load(weights_only=True)`` (checked
statically below), so a checkpoint that carries code is refused before any
of it runs (the payload here would create a marker file).
"""
import pathlib
import re

import pytest
import torch
from mmengine.config import Config

import epsam  # noqa: F401
from epsam.apis import init_model
from epsam.engine.checkpoint_loading import CheckpointError
from epsam.models.sam import SamCheckpointError, build_sam, load_sam_checkpoint
from epsam.registry import MODELS
from epsam.wsi import WSIError
from epsam.wsi.predictors import load_model_checkpoint
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.faults

CAM_CONFIG = REPO_ROOT / 'configs' / '_base_' / 'models' / 'adl_resnet18_cam_tiny.py'
TORCH_LOAD = re.compile(r'\btorch\.load\(')


class RunsCode:
    """Unpickling this object calls ``Path.touch(marker)``: code from a checkpoint."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (self.marker, )


@pytest.fixture(scope='module')
def classifier():
    torch.manual_seed(0)
    return MODELS.build(Config.fromfile(str(CAM_CONFIG)).model)


def torch_load_calls(text: str):
    """The argument text of every ``torch.load(...)`` call (balanced parentheses)."""
    for match in TORCH_LOAD.finditer(text):
        depth, end = 1, match.end()
        while depth and end < len(text):
            depth += {'(': 1, ')': -1}.get(text[end], 0)
            end += 1
        yield text[match.end():end - 1]


def test_every_torch_load_in_the_repository_is_weights_only():
    calls = [(path.relative_to(REPO_ROOT), args)
             for folder in ('epsam', 'tools') for path in (REPO_ROOT / folder).rglob('*.py')
             for args in torch_load_calls(path.read_text())]
    assert len(calls) >= 5, calls  # the scan found the loaders
    assert not [call for call in calls if 'weights_only=True' not in call[1]]


def _loaders(classifier, tmp_path):
    """(name, callable(path)) of every way epsam reads a checkpoint."""
    from mmengine.runner import load_checkpoint
    return [
        ('epsam.apis (tools/generate_cams.py)',
         lambda p: init_model(str(CAM_CONFIG), str(p), what='classifier')),
        ('epsam.models.sam', lambda p: load_sam_checkpoint(build_sam('tiny'), str(p))),
        ('epsam.wsi', lambda p: load_model_checkpoint(classifier, str(p))),
        ('mmengine load_checkpoint (pipeline, tools/test.py, --resume)',
         lambda p: load_checkpoint(classifier, str(p), map_location='cpu', logger='silent')),
    ]


@pytest.mark.parametrize('unsafe_environment', [False, True])
def test_checkpoint_with_pickled_code_is_refused_before_running_it(classifier, tmp_path,
                                                                   monkeypatch,
                                                                   unsafe_environment):
    if unsafe_environment:
        # Set after import (import epsam refuses it): every loader still passes
        # weights_only=True explicitly, which torch honours over the variable.
        monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    marker = tmp_path / 'code_ran'
    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict=classifier.state_dict(), meta=RunsCode(marker)), path)
    messages = {}
    for name, load in _loaders(classifier, tmp_path):
        with pytest.raises((SystemExit, SamCheckpointError, WSIError, Exception)) as info:
            load(path)
        messages[name] = str(info.value)
        assert not marker.exists(), f'{name} ran code from the checkpoint'
    assert 'weights_only=True' in messages['epsam.apis (tools/generate_cams.py)']
    assert 'holds pickled code or Python objects, which epsam refuses' in \
        messages['epsam.models.sam']
    refused = 'evil.pth: the checkpoint holds pickled code or Python objects, which epsam refuses'
    assert refused in messages['epsam.wsi']
    assert refused in messages['mmengine load_checkpoint (pipeline, tools/test.py, --resume)']
    # The same object unpickled without the guard does run the code: the test can fail.
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_truncated_checkpoint_is_refused_with_its_name(classifier, tmp_path):
    full = tmp_path / 'full.pth'
    torch.save(dict(state_dict=classifier.state_dict()), full)
    path = tmp_path / 'truncated.pth'
    path.write_bytes(full.read_bytes()[:full.stat().st_size // 2])
    for name, load in _loaders(classifier, tmp_path):
        with pytest.raises((SystemExit, SamCheckpointError, WSIError, RuntimeError)) as info:
            load(path)
        assert 'truncated.pth' in str(info.value), name
    with pytest.raises(SamCheckpointError, match='is corrupt or truncated'):
        load_sam_checkpoint(build_sam('tiny'), str(path))


def test_checkpoint_of_another_model_is_refused(classifier, tmp_path):
    sam_path, cls_path = tmp_path / 'sam.pth', tmp_path / 'classifier.pth'
    torch.save(build_sam('tiny').state_dict(), sam_path)
    torch.save(dict(state_dict=classifier.state_dict()), cls_path)
    with pytest.raises(CheckpointError, match='sam.pth: does not fit the classifier built from '
                       r'the config: \d+ keys of the model missing'):
        init_model(str(CAM_CONFIG), str(sam_path), what='classifier')
    with pytest.raises(WSIError, match='sam.pth'):
        load_model_checkpoint(classifier, str(sam_path))
    with pytest.raises(SamCheckpointError, match=r"classifier.pth' does not fit the model "
                                                 r"built as 'tiny'.*missing keys"):
        load_sam_checkpoint(build_sam('tiny'), str(cls_path))
    vit_b_like = {k: v for k, v in build_sam('tiny').state_dict().items()}
    vit_b_like['mask_decoder.iou_token.weight'] = torch.zeros(1, 7)
    torch.save(vit_b_like, sam_path)
    with pytest.raises(SamCheckpointError, match='tensors differ in shape'):
        load_sam_checkpoint(build_sam('tiny'), str(sam_path))


def test_import_refuses_the_unsafe_environment_variable():
    import subprocess
    import sys
    env = dict(__import__('os').environ, TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD='1')
    proc = subprocess.run([sys.executable, '-c', 'import epsam'], capture_output=True, text=True,
                          env=env, cwd=REPO_ROOT)
    assert proc.returncode != 0
    assert 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD is set: it lets torch.load run code' in proc.stderr


def test_test_tool_refuses_the_checkpoint_of_another_model(tmp_path):
    """tools/test.py with a SAM tuning checkpoint for the classifier config: no random scores."""
    from tests.conftest import run_tool
    config = (REPO_ROOT / 'configs' / 'adl_cam' /
              'adl-cam_r18tiny-hf_1xb16-15e_synthetic-camelyon-128x128.py')
    torch.manual_seed(0)
    tuning = MODELS.build(dict(type='SamTuningModel', sam=dict(variant='tiny')))
    path = tmp_path / 'sam_tuning_epoch_3.pth'
    torch.save(dict(state_dict=tuning.state_dict(), meta=dict(epoch=3)), path)
    proc = run_tool(['tools/test.py', config, path, '--work-dir', tmp_path / 'work'],
                    check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f'error: {path}: does not fit the CAMClassifier of ')
    assert re.search(r'\d+ keys of the model missing from the checkpoint \(.+\); \d+ checkpoint '
                     r'keys the model does not have', last)
    assert 'Epoch(test)' not in proc.stdout + proc.stderr  # nothing was scored

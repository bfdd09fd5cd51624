"""Checkpoints are written atomically through epsam's local file backend."""
import os

import pytest
from mmengine.config import Config
from mmengine.fileio import get_file_backend

from epsam.engine.atomic_backend import ATOMIC_BACKEND, AtomicLocalBackend
from epsam.engine.config_utils import ensure_safe_checkpoint_hook
from epsam.fileio import atomic_io


def test_train_configs_get_the_atomic_backend():
    cfg = Config(dict(default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1))))
    ensure_safe_checkpoint_hook(cfg)
    assert cfg.default_hooks.checkpoint.backend_args == dict(backend=ATOMIC_BACKEND)
    assert any(h['type'] == 'WeightsOnlyCheckpointHook' for h in cfg.custom_hooks)
    # A backend the user chose is kept.
    cfg = Config(dict(default_hooks=dict(checkpoint=dict(
        type='CheckpointHook', backend_args=dict(backend='local')))))
    ensure_safe_checkpoint_hook(cfg)
    assert cfg.default_hooks.checkpoint.backend_args == dict(backend='local')


def test_a_failed_checkpoint_write_leaves_no_file(tmp_path, monkeypatch):
    backend = get_file_backend(str(tmp_path / 'x.pth'), backend_args=dict(backend=ATOMIC_BACKEND))
    assert isinstance(backend, AtomicLocalBackend)
    backend.put(b'complete', tmp_path / 'epoch_1.pth')
    assert (tmp_path / 'epoch_1.pth').read_bytes() == b'complete'

    def killed(src, dst):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(atomic_io.os, 'replace', killed)
    with pytest.raises(OSError):
        backend.put(b'half', tmp_path / 'epoch_2.pth')
    assert sorted(os.listdir(tmp_path)) == ['epoch_1.pth']

"""epsam.apis: one road from a config and a checkpoint to a model."""
from pathlib import Path

import pytest
import torch

from epsam.apis import init_model, init_sam, load_config
from epsam.engine.checkpoint_loading import CheckpointError

CONFIG = (Path(__file__).resolve().parents[2] / 'configs' / 'adl_cam' /
          'adl-cam_r18tiny-hf_1xb16-15e_synthetic-camelyon-128x128.py')


def test_init_model_loads_a_checkpoint_strictly(tmp_path):
    model = init_model(str(CONFIG))
    assert not model.training and model.cfg.model.type == 'CAMClassifier'
    state = {key: torch.randn_like(value) if value.is_floating_point() else value
             for key, value in model.state_dict().items()}
    path = tmp_path / 'classifier.pth'
    torch.save(dict(state_dict=state), path)
    loaded = init_model(load_config(str(CONFIG)), str(path))
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_init_model_refuses_a_checkpoint_that_does_not_fit(tmp_path):
    state = init_model(str(CONFIG)).state_dict()
    name = next(key for key, value in state.items() if value.is_floating_point())
    state.pop(name)
    state['extra.weight'] = torch.zeros(1)
    path = tmp_path / 'other.pth'
    torch.save(state, path)
    with pytest.raises(CheckpointError, match='does not fit'):
        init_model(str(CONFIG), str(path))


def test_init_model_applies_cfg_options():
    model = init_model(str(CONFIG), cfg_options={'model.head.num_classes': 2})
    assert model.cfg.model.head.num_classes == 2


def test_init_sam_builds_a_stand_in_in_eval_mode():
    sam = init_sam('tiny', pretrained=False)
    assert not sam.training and sam.weights.is_stand_in

"""--resume reproduces an uninterrupted run, and checkpoints load with weights_only."""
import pickle

import pytest
import torch

from tests.conftest import USER_PROJECT

CONFIG = USER_PROJECT / 'toy_regression_config.py'
CRASH_CONFIG = USER_PROJECT / 'toy_regression_crash_config.py'


def load_weights(path):
    return torch.load(path, map_location='cpu', weights_only=True)['state_dict']


@pytest.mark.slow
def test_crash_after_two_epochs_then_resume_matches_uninterrupted(tmp_path, tool_runner):
    full_dir, resumed_dir = tmp_path / 'full', tmp_path / 'resumed'
    tool_runner(['tools/train.py', CONFIG, '--work-dir', full_dir],
                extra_pythonpath=[USER_PROJECT])

    crashed = tool_runner(['tools/train.py', CRASH_CONFIG, '--work-dir', resumed_dir],
                          extra_pythonpath=[USER_PROJECT], check=False)
    assert crashed.returncode == 17, crashed.stderr[-2000:]
    assert (resumed_dir / 'epoch_2.pth').exists()
    assert not (resumed_dir / 'epoch_3.pth').exists()

    resumed = tool_runner(['tools/train.py', CONFIG, '--work-dir', resumed_dir, '--resume'],
                          extra_pythonpath=[USER_PROJECT])
    assert 'resumed epoch: 2' in resumed.stdout + resumed.stderr

    full, again = load_weights(full_dir / 'epoch_4.pth'), load_weights(resumed_dir / 'epoch_4.pth')
    assert full.keys() == again.keys()
    for key in full:
        assert torch.equal(full[key], again[key]), key
    # Training really moved the weights (the comparison is not vacuous).
    first = load_weights(full_dir / 'epoch_1.pth')
    assert any(not torch.equal(first[k], full[k]) for k in full)


def test_message_hub_round_trip_is_weights_only_safe(tmp_path):
    import numpy as np
    from mmengine.logging import HistoryBuffer, MessageHub

    from epsam.engine.hooks.weights_only_checkpoint_hook import (decode_message_hub,
                                                                 encode_message_hub)
    hub = MessageHub.get_instance('test_round_trip')
    for value in (1.5, 2.5, np.float64(3.0)):
        hub.update_scalar('train/loss', value)
    hub.update_info('eta', np.float64(12.5))
    hub.update_info('iter', 3)
    raw = hub.state_dict()

    path = tmp_path / 'raw.pth'
    torch.save({'message_hub': raw}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)

    torch.save({'message_hub': encode_message_hub(raw)}, path)
    state = decode_message_hub(torch.load(path, weights_only=True)['message_hub'])
    buffer = state['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    assert buffer.mean() == pytest.approx(7.0 / 3)
    assert state['runtime_info']['eta'] == 12.5 and state['runtime_info']['iter'] == 3
    restored = MessageHub.get_instance('test_round_trip_restored')
    restored.load_state_dict(state)
    assert restored.get_scalar('train/loss').current() == 3.0


def test_to_plain_names_the_offending_field():
    from epsam.engine.hooks.weights_only_checkpoint_hook import NotPlainError, to_plain
    with pytest.raises(NotPlainError, match=r"meta\['bad'\]\[1\].*object"):
        to_plain({'bad': [1, object()]}, 'meta')

import numpy as np
import pytest
import torch

from epsam.wsi import (CAMTilePredictor, SamTilePredictor, TilePredictor, WSIError,
                       build_model_from_config, load_model_checkpoint)
from tests.conftest import REPO_ROOT

TINY_CFG = str(REPO_ROOT / 'configs/_base_/models/adl_resnet18_cam_tiny.py')


@pytest.fixture(scope='module')
def tiny_checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = build_model_from_config(TINY_CFG)
    path = tmp_path_factory.mktemp('ckpt') / 'tiny.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(epoch=1)), path)
    return path


def _tiles(count=3, size=64):
    return np.random.default_rng(0).integers(0, 256, (count, size, size, 3), dtype=np.uint8)


def test_cam_predictor(tiny_checkpoint):
    predictor = CAMTilePredictor.from_config(TINY_CFG, str(tiny_checkpoint), batch_size=2)
    assert isinstance(predictor, TilePredictor)
    tiles = _tiles()
    probs = predictor(tiles)
    assert probs.shape == (3, 64, 64) and probs.dtype == np.float32
    assert probs.min() >= 0 and probs.max() <= 1
    scores, cams = predictor.scores_and_cams(tiles)
    np.testing.assert_allclose(probs, cams * scores[:, None, None], rtol=1e-6)
    # the same tiles one at a time give the same maps (batching does not matter)
    np.testing.assert_allclose(predictor(tiles[1:2])[0], probs[1], atol=1e-5)
    with pytest.raises(ValueError, match=r'RGB uint8 \(B, H, W, 3\)'):
        predictor(tiles.astype(np.float32))


def test_checkpoint_errors(tmp_path, tiny_checkpoint):
    model = build_model_from_config(TINY_CFG)
    junk = tmp_path / 'junk.pth'
    junk.write_bytes(b'not a checkpoint')
    with pytest.raises(WSIError, match='junk.pth: checkpoint is corrupt or truncated'):
        load_model_checkpoint(model, str(junk))
    other = tmp_path / 'other.pth'
    torch.save({'state_dict': {'module.fc.weight': torch.zeros(2, 2)}}, other)
    with pytest.raises(WSIError, match='other.pth: does not fit the CAMClassifier'):
        load_model_checkpoint(model, str(other))
    state = torch.load(tiny_checkpoint, weights_only=True)['state_dict']
    ddp = tmp_path / 'ddp.pth'
    torch.save({f'module.{k}': v for k, v in state.items()}, ddp)
    load_model_checkpoint(model, str(ddp))  # plain dict with DDP prefix
    assert torch.equal(model.head.fc.weight, state['head.fc.weight'])


def test_sam_predictor(tiny_checkpoint):
    from epsam.models.sam import build_sam
    cam = CAMTilePredictor.from_config(TINY_CFG, str(tiny_checkpoint), gate_by_score=False)
    with torch.no_grad():  # positive class weights: the CAM follows the (ReLU) features
        cam.model.head.fc.weight.fill_(1.0)
    assert cam.scores_and_cams(_tiles(2))[1].max() > 0
    torch.manual_seed(0)
    predictor = SamTilePredictor(cam, build_sam('tiny'), score_threshold=0.0,
                                 prompt_generator=dict(type='ProbabilisticPointPrompt',
                                                       num_points=5))
    tiles = _tiles(2)
    probs = predictor(tiles)
    assert probs.shape == (2, 64, 64) and probs.min() >= 0 and probs.max() <= 1
    assert probs.std() > 0  # SAM decoded something for the prompted tiles
    np.testing.assert_array_equal(predictor(tiles), probs)  # prompts seeded by the pixels
    predictor.score_threshold = 1.1  # no tile passes: all-zero maps
    assert not predictor(tiles).any()

import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from synthetic_patches import make_patches, make_samples

import epsam  # noqa: F401
from epsam.models.classifiers import CAMClassifier
from epsam.registry import MODELS

CONFIG_DIR = osp.join(osp.dirname(__file__), '..', '..', '..', 'configs', '_base_', 'models')
MODEL_CONFIGS = ['adl_resnet50_cam.py', 'adl_resnet18_cam_tiny.py']


def tiny_model(num_classes=1, **overrides):
    cfg = Config.fromfile(osp.join(CONFIG_DIR, 'adl_resnet18_cam_tiny.py')).model
    cfg.head.num_classes = num_classes
    cfg.update(overrides)  # ConfigDict.update merges nested dicts
    return MODELS.build(cfg)


def _batch(model, count=4, size=64, seed=0):
    images, labels, masks = make_patches(count, size, torch.Generator().manual_seed(seed))
    data = model.data_preprocessor(
        dict(inputs=images, data_samples=make_samples(labels)), training=True)
    return data, labels, masks


@pytest.mark.parametrize('name', MODEL_CONFIGS)
def test_model_configs_build_and_run(name):
    cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
    if cfg.model.backbone.depth == 50:  # keep the test light: same structure, thin
        cfg.model.backbone.update(stem_channels=8, base_channels=8)
        cfg.model.head.in_channels = 8 * 8 * 4
    model = MODELS.build(cfg.model).eval()
    assert isinstance(model, CAMClassifier)
    assert model.backbone.in_channels == model.data_preprocessor.out_channels == 4
    inputs = model.data_preprocessor(dict(inputs=[torch.zeros(3, 64, 64, dtype=torch.uint8)]))
    with torch.no_grad():
        feats, cam_feats = model.extract_feat_and_layer(inputs['inputs'])
    # layer4 at stride 1: output stride 16.
    assert feats.shape[-2:] == (4, 4) and cam_feats.shape == feats.shape


def test_loss_and_tensor_modes():
    torch.manual_seed(0)
    model = tiny_model()
    data, _, _ = _batch(model)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_cls'} and losses['loss_cls'].requires_grad
    losses['loss_cls'].backward()
    assert model.backbone.conv1.weight.grad is not None
    logits = model(data['inputs'], mode='tensor')
    assert logits.shape == (4, 1)


def test_predict_mode_fills_scores_and_cams():
    torch.manual_seed(0)
    model = tiny_model(num_classes=3).eval()
    images = [torch.randint(0, 256, (3, 48, 64), dtype=torch.uint8) for _ in range(2)]
    data = model.data_preprocessor(dict(inputs=images, data_samples=None))
    with torch.no_grad():
        samples = model(**data, mode='predict')
        logits = model(data['inputs'], mode='tensor')
    assert len(samples) == 2
    for index, sample in enumerate(samples):
        assert torch.allclose(sample.pred_score, logits[index].sigmoid())
        assert torch.equal(sample.pred_label, (sample.pred_score >= 0.5).float())
        assert isinstance(sample.cam, PixelData) and sample.cam.data.shape == (3, 48, 64)
        cam = sample.cam.data
        assert cam.min() >= 0 and cam.max() <= 1
        peaks = cam.flatten(1).amax(1)  # 1, or 0 for a map without positive evidence
        assert torch.all(((peaks - 1).abs() < 1e-6) | (peaks == 0)) and peaks.max() == 1
    model.with_cam_in_predict = False
    assert 'cam' not in model(**data, mode='predict')[0]


def test_bad_use():
    model = tiny_model()
    data, _, _ = _batch(model)
    with pytest.raises(ValueError, match='invalid mode'):
        model(data['inputs'], mode='logits')
    with pytest.raises(ValueError, match='needs data samples'):
        model(data['inputs'], mode='loss')
    with pytest.raises(ValueError, match="no layer 'layer9.0'"):
        tiny_model(cam_layer='layer9.0')
    narrow = tiny_model(cam_layer='layer3.0')  # 64 channels, the fc expects 128
    with pytest.raises(ValueError, match='CAM layer features'):
        narrow.eval()(data['inputs'], mode='predict')


def _train(model, steps, seed, lr=1e-3):
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    model.train()
    for _ in range(steps):
        images, labels, _ = make_patches(16, 64, generator)
        data = model.data_preprocessor(
            dict(inputs=images, data_samples=make_samples(labels)), training=True)
        loss = model(**data, mode='loss')['loss_cls']
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, generator


@pytest.mark.slow
@pytest.mark.parametrize('with_adl', [False, True])
def test_training_on_synthetic_blobs(with_adl):
    """Loss drops and the classifier separates the patches; without ADL the
    CAM of positive patches also sits on the disc. (ADL erases the most
    active region, which on these small uniform discs is the whole evidence,
    so the CAM can come out inverted for some seeds: localisation is only
    asserted for the plain network.)"""
    torch.manual_seed(0)
    overrides = {} if with_adl else dict(backbone=dict(adl_positions=()))
    model = tiny_model(**overrides)
    losses, generator = _train(model, steps=60, seed=0)
    assert np.mean(losses[-5:]) < 0.6 * losses[0]

    model.eval()
    images, labels, masks = make_patches(16, 64, generator)
    data = model.data_preprocessor(dict(inputs=images))
    with torch.no_grad():
        samples = model(**data, mode='predict')
    scores = torch.stack([s.pred_score[0] for s in samples])
    accuracy = ((scores >= 0.5).float() == torch.tensor(labels)).float().mean()
    assert accuracy >= 0.875
    if not with_adl:
        inside = [s.cam.data[0][m].mean() for s, m, lab in zip(samples, masks, labels) if lab]
        outside = [s.cam.data[0][~m].mean() for s, m, lab in zip(samples, masks, labels) if lab]
        assert all(i > o for i, o in zip(inside, outside))
        assert np.mean(inside) > np.mean(outside) + 0.25

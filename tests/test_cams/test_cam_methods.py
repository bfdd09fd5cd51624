import pytest
import torch
import torch.nn.functional as F
from cam_models import tiny_classifier

import epsam  # noqa: F401
from epsam.cams import minmax_normalize
from epsam.registry import CAM_METHODS

METHODS = ['CAM', 'GradCAM', 'GradCAMPlusPlus', 'TTACAM']


def test_registry_is_populated():
    assert set(METHODS) <= set(CAM_METHODS.module_dict)


@pytest.mark.parametrize('name', METHODS)
def test_shape_range_under_no_grad(name):
    model = tiny_classifier(num_classes=3)
    inputs = torch.rand(2, 3, 64, 48)
    with torch.no_grad():
        maps = CAM_METHODS.build(dict(type=name))(model, inputs)
    assert maps.shape == (2, 3, 64, 48)
    assert not maps.requires_grad
    assert maps.min() >= 0 and maps.max() <= 1 + 1e-6
    assert not model.training


def test_plain_cam_is_fc_weights_on_the_chosen_layer():
    model = tiny_classifier()
    inputs = torch.rand(1, 3, 64, 64)
    captured = {}
    model.backbone.layer4[0].register_forward_hook(lambda m, a, o: captured.update(x=o))
    maps = CAM_METHODS.build(dict(type='CAM'))(model, inputs)
    raw = torch.einsum('kc,bchw->bkhw', model.head.fc.weight, captured['x'])
    expected = minmax_normalize(F.interpolate(raw.relu(), size=(64, 64), mode='bilinear'))
    assert torch.allclose(maps, expected, atol=1e-6)
    # With layer4 at stride 1 the map is 4x4 before upsampling, so it differs from
    # the last block's CAM.
    final = CAM_METHODS.build(dict(type='CAM', layer='layer4.1'))(model, inputs)
    assert not torch.allclose(final, maps)


def test_grad_cam_matches_manual_gradients():
    model = tiny_classifier()
    inputs = torch.rand(2, 3, 64, 64)
    captured = {}
    model.backbone.layer4[0].register_forward_hook(lambda m, a, o: captured.update(x=o))
    logits = model.head(model.extract_feat(inputs))
    grads = torch.autograd.grad(logits[:, 1].sum(), captured['x'])[0]
    raw = (grads.mean((2, 3))[:, :, None, None] * captured['x']).sum(1, keepdim=True)
    expected = minmax_normalize(F.interpolate(raw.relu(), size=(64, 64), mode='bilinear'))
    with torch.no_grad():
        maps = CAM_METHODS.build(dict(type='GradCAM'))(model, inputs)
    assert torch.allclose(maps[:, 1:2], expected.detach(), atol=1e-5)


def test_grad_cam_works_with_frozen_parameters():
    model = tiny_classifier()
    for param in model.parameters():
        param.requires_grad_(False)
    with torch.no_grad():
        maps = CAM_METHODS.build(dict(type='GradCAMPlusPlus'))(model, torch.rand(1, 3, 32, 32))
    assert maps.shape == (1, 2, 32, 32) and maps.max() > 0


def test_grad_cam_plus_plus_weights_formula():
    method = CAM_METHODS.build(dict(type='GradCAMPlusPlus'))
    activations = torch.tensor([[[[1.0, 3.0]]]])  # sum 4
    grads = torch.tensor([[[[2.0, -1.0]]]])
    # alpha = g^2 / (2 g^2 + 4 g^3): 4 / (8 + 32) = 0.1 and 1 / (2 - 4) = -0.5;
    # weight = sum alpha * relu(g) = 0.1 * 2 = 0.2
    assert torch.allclose(method.channel_weights(activations, grads), torch.tensor([[0.2]]))


def test_errors_are_clear():
    model = tiny_classifier()
    with pytest.raises(ValueError, match='preprocessed float batch'):
        CAM_METHODS.build(dict(type='CAM'))(model, torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(TypeError, match='CAMClassifier-like'):
        CAM_METHODS.build(dict(type='GradCAM'))(torch.nn.Conv2d(3, 3, 1), torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError, match='CAM layer features'):
        CAM_METHODS.build(dict(type='CAM', layer='layer3.0'))(model, torch.rand(1, 3, 32, 32))

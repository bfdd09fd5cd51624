import pytest
import torch

import epsam  # noqa: F401
from epsam.models.backbones import ResNetADL
from epsam.models.layers import ADL
from epsam.registry import MODELS

TINY = dict(stem_channels=8, base_channels=8)


class Opaque:
    """An arbitrary pickled object: a weights-only load must refuse it."""


@pytest.mark.parametrize('in_channels', [3, 4])
def test_output_shapes_and_stride_one_layer4(in_channels):
    default = ResNetADL(18, in_channels=in_channels, strides=(1, 2, 2, 2), adl_positions=(),
                        **TINY).eval()
    stride_one = ResNetADL(18, in_channels=in_channels, strides=(1, 2, 2, 1), adl_positions=(),
                           **TINY).eval()
    x = torch.rand(1, in_channels, 64, 64)
    # 64 px: output stride 32 -> 2x2; layer4 at stride 1 -> output stride 16 -> 4x4.
    assert default(x)[0].shape == (1, 64, 2, 2)
    assert stride_one(x)[0].shape == (1, 64, 4, 4)
    with pytest.raises(ValueError, match=f'\\(B, {in_channels}, H, W\\)'):
        stride_one(torch.rand(1, 7 - in_channels, 64, 64))


def test_resnet50_epsam_defaults():
    model = MODELS.build(dict(type='ResNetADL', depth=50, in_channels=4, **TINY)).eval()
    out = model(torch.rand(1, 4, 64, 64))
    assert len(out) == 1 and out[0].shape == (1, 8 * 8 * 4, 4, 4)
    assert set(model.adl_layers) == {'layer3_0', 'layer4_0', 'layer4_2'}
    assert all(isinstance(m, ADL) and m.drop_rate == 0.75 and m.gamma == 0.8
               for m in model.adl_layers.values())


def test_adl_layers_act_only_where_configured():
    model = ResNetADL(18, adl_positions=((2, 1), ), adl_cfg=dict(drop_rate=1.0, gamma=0.0),
                      out_blocks=('layer2.0', 'layer2.1', 'layer3.0'), **TINY).train()
    calls = []
    for name, module in model.adl_layers.items():
        module.register_forward_hook(lambda m, a, o, name=name: calls.append(name))
    final, block20, block21, block30 = model(torch.rand(2, 3, 32, 32) + 0.1)
    assert calls == ['layer2_1']
    # gamma 0 -> every position with positive attention is dropped after layer2.1.
    assert block21.abs().sum() == 0 and block20.abs().sum() > 0


def test_out_blocks_returned_after_stage_outputs():
    model = ResNetADL(34, out_indices=(2, 3), out_blocks=('layer4.0', 'layer3.5'),
                      adl_positions=(), **TINY).eval()
    outs = model(torch.rand(1, 3, 64, 64))
    assert [tuple(o.shape[1:]) for o in outs] == [(32, 4, 4), (64, 4, 4), (64, 4, 4),
                                                  (32, 4, 4)]
    assert torch.equal(outs[3], outs[0])  # layer3.5 is the last block of layer3


@pytest.mark.parametrize('kwargs, message', [
    (dict(depth=152), 'depth'),
    (dict(in_channels=5), 'in_channels'),
    (dict(adl_positions=((5, 0), )), 'stage 5'),
    (dict(depth=18, adl_positions=((4, 2), )), 'block 2 out of range for layer4'),
    (dict(out_blocks=('layer9.0', )), 'layer9.0'),
    (dict(out_blocks=('conv1', )), 'layer4.0'),
])
def test_bad_configuration(kwargs, message):
    kwargs = {**dict(depth=50), **kwargs}
    with pytest.raises(ValueError, match=message):
        ResNetADL(**kwargs, **TINY)


def _imagenet_like_state(tmp_path, name='rn18.pth', wrap=True):
    source = ResNetADL(18, in_channels=3, adl_positions=(), **TINY)
    for param in source.parameters():
        torch.nn.init.normal_(param)
    state = {k: v.clone() for k, v in source.state_dict().items()}
    state['fc.weight'] = torch.zeros(1000, 64)  # classifier weights must be skipped
    path = tmp_path / name
    torch.save(dict(state_dict=state, meta=dict(epoch=3)) if wrap else state, path)
    return path, state


@pytest.mark.parametrize('via_init_cfg', [False, True])
def test_pretrained_four_channel_init(tmp_path, via_init_cfg):
    path, state = _imagenet_like_state(tmp_path)
    if via_init_cfg:
        cfg = dict(init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    else:
        cfg = dict(pretrained_checkpoint=str(path))
    model = ResNetADL(18, in_channels=4, adl_positions=(), **TINY, **cfg)
    model.init_weights()
    conv1 = model.conv1.weight.detach()
    assert torch.equal(conv1[:, :3], state['conv1.weight'])
    assert torch.allclose(conv1[:, 3], state['conv1.weight'].mean(1))
    assert torch.equal(model.layer3[1].conv2.weight, state['layer3.1.conv2.weight'])
    assert torch.equal(model.layer2[0].downsample[1].running_mean,
                       state['layer2.0.downsample.1.running_mean'])


def test_pretrained_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='not found'):
        ResNetADL(18, adl_positions=(), pretrained_checkpoint=str(tmp_path / 'no.pth'),
                  **TINY).init_weights()

    unsafe = tmp_path / 'unsafe.pth'
    torch.save(dict(state_dict={}, extra=Opaque()), unsafe)
    with pytest.raises(ValueError, match='weights-only'):
        ResNetADL(18, adl_positions=(), pretrained_checkpoint=str(unsafe), **TINY).init_weights()

    foreign = tmp_path / 'foreign.pth'
    torch.save({'encoder.weight': torch.zeros(2)}, foreign)
    with pytest.raises(ValueError, match='no key'):
        ResNetADL(18, adl_positions=(), pretrained_checkpoint=str(foreign), **TINY).init_weights()

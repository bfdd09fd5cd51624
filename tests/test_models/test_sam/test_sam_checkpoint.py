import pytest
import torch

import epsam  # noqa: F401
from epsam.models.sam import (SamCheckpointError, build_sam, describe_sam_state_dict,
                              get_sam_variant, identify_sam_variant, load_sam_checkpoint,
                              read_sam_state_dict, sam_state_dict_shapes)


@pytest.fixture
def tiny_ckpt(tmp_path):
    torch.manual_seed(0)
    sam = build_sam('tiny')
    path = tmp_path / 'sam_tiny.pth'
    torch.save(sam.state_dict(), path)
    return path, sam


def test_round_trip_restores_weights(tiny_ckpt):
    path, source = tiny_ckpt
    torch.manual_seed(1)
    sam = build_sam('tiny', checkpoint=str(path))
    for key, value in source.state_dict().items():
        assert torch.equal(sam.state_dict()[key], value), key


def test_wrapped_and_prefixed_state_dict(tmp_path, tiny_ckpt):
    _, source = tiny_ckpt
    wrapped = {f'sam.{k}': v for k, v in source.state_dict().items()}
    wrapped['loss_module.weight'] = torch.zeros(3)  # outside the SAM: dropped
    path = tmp_path / 'tuned.pth'
    torch.save({'state_dict': wrapped, 'meta': {'epoch': 3}}, path)
    state = read_sam_state_dict(str(path))
    assert set(state) == set(source.state_dict())
    sam = build_sam('tiny', checkpoint=str(path))
    key = 'mask_decoder.iou_token.weight'
    assert torch.equal(sam.state_dict()[key], source.state_dict()[key])


def test_a_checkpoint_with_an_adapter_is_refused_not_stripped(tmp_path, tiny_ckpt):
    _, source = tiny_ckpt
    wrapped = {f'sam.{k}': v for k, v in source.state_dict().items()}
    wrapped['adapter.stem.weight'] = torch.zeros(3)
    path = tmp_path / 'cad_tuned.pth'
    torch.save({'state_dict': wrapped}, path)
    with pytest.raises(SamCheckpointError, match='with a SAM adapter.*silently drop') as info:
        build_sam('tiny', checkpoint=str(path))
    assert str(path) in str(info.value) and 'adapter.stem.weight' in str(info.value)


def test_missing_file(tmp_path):
    path = tmp_path / 'nope.pth'
    with pytest.raises(SamCheckpointError, match='does not exist') as info:
        build_sam('tiny', checkpoint=str(path))
    assert str(path) in str(info.value)


@pytest.mark.parametrize('keep', [0, 10, 0.5])
def test_truncated_file(tmp_path, tiny_ckpt, keep):
    path, _ = tiny_ckpt
    data = path.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep
    broken = tmp_path / 'broken.pth'
    broken.write_bytes(data[:cut])
    with pytest.raises(SamCheckpointError, match='corrupt or truncated') as info:
        read_sam_state_dict(str(broken))
    assert str(broken) in str(info.value)


class _Payload:
    """A custom class: unpickling it would need code execution."""


def test_pickled_object_is_refused(tmp_path, tiny_ckpt):
    _, source = tiny_ckpt
    path = tmp_path / 'with_object.pth'
    torch.save({'model': source.state_dict(), 'payload': _Payload()}, path)
    with pytest.raises(SamCheckpointError, match='pickled code or Python objects') as info:
        build_sam('tiny', checkpoint=str(path))
    assert 'weights_only' in str(info.value)


def test_not_a_state_dict(tmp_path):
    path = tmp_path / 'tensor.pth'
    torch.save(torch.zeros(3), path)
    with pytest.raises(SamCheckpointError, match='not a state dict'):
        read_sam_state_dict(str(path))
    path = tmp_path / 'mixed.pth'
    torch.save({'a': torch.zeros(1), 'epoch': 3}, path)
    with pytest.raises(SamCheckpointError, match='not tensors'):
        read_sam_state_dict(str(path))


def test_checkpoint_of_another_variant_is_named(tiny_ckpt):
    path, _ = tiny_ckpt
    with pytest.raises(SamCheckpointError) as info:
        build_sam('tiny', checkpoint=str(path), encoder_embed_dim=96)
    message = str(info.value)
    assert 'differ in shape' in message
    assert 'image_encoder.patch_embed.proj.weight' in message
    assert "tiny checkpoint" in message and "variant='tiny'" in message


def test_deeper_model_reports_missing_keys_and_variant(tiny_ckpt):
    path, _ = tiny_ckpt
    with pytest.raises(SamCheckpointError) as info:
        build_sam('tiny', checkpoint=str(path), encoder_depth=3)
    message = str(info.value)
    assert 'missing keys' in message and 'image_encoder.blocks' in message
    assert "variant='tiny'" in message


def test_non_strict_load_returns_skipped_keys(tiny_ckpt):
    path, _ = tiny_ckpt
    sam = build_sam('tiny', encoder_depth=3, encoder_global_attn_indexes=(1, ))
    skipped = load_sam_checkpoint(sam, str(path), strict=False)
    assert skipped and all(k.startswith('image_encoder.blocks.2.') for k in skipped)


def test_identify_official_variants_from_shapes():
    for name in ('vit_b', 'vit_l', 'vit_h', 'tiny'):
        shapes = sam_state_dict_shapes(get_sam_variant(name))
        assert identify_sam_variant(shapes) == name
    shapes = dict(sam_state_dict_shapes(get_sam_variant('vit_l')))
    shapes['image_encoder.pos_embed'] = (1, 32, 32, 1024)
    assert identify_sam_variant(shapes) is None
    summary = describe_sam_state_dict(shapes)
    assert 'width 1024' in summary and '24 encoder blocks' in summary and '512 px' in summary


def test_vit_l_checkpoint_into_tiny_names_vit_l(tmp_path):
    # A real vit_l state dict is 1.2 GB; the shapes-only tensors of a zero-stride
    # expand keep the file small while torch.save/torch.load see true shapes.
    shapes = sam_state_dict_shapes(get_sam_variant('vit_l'))
    state = {k: torch.zeros(()).expand(s) for k, s in shapes.items()}
    path = tmp_path / 'vit_l_shapes.pth'
    torch.save(state, path)
    if path.stat().st_size > 50e6:
        pytest.skip('torch.save materialised the expanded tensors')
    with pytest.raises(SamCheckpointError, match="vit_l checkpoint; build with variant='vit_l'"):
        build_sam('tiny', checkpoint=str(path))

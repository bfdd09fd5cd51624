import copy

import numpy as np
import pytest
import torch

import epsam  # noqa: F401
from epsam.models.adapters import (AdapterCompatibilityError, CADAdapter, build_sam_adapter,
                                   cad_parameter_count, count_parameters)
from epsam.registry import MODELS


def tiny_cad(**kwargs):
    """CAD sized for the tiny SAM: 32 channels, grid 16, 128 px input (128 / 8 = 16)."""
    settings = dict(channels=32, embedding_size=16, input_size=128)
    settings.update(kwargs)
    torch.manual_seed(0)
    return CADAdapter(**settings)


def test_default_parameter_count_is_cads_1_77m():
    adapter = CADAdapter()
    # stem 6*256+256 = 1,792; per block conv 9*256*256+256 = 590,080 and BN 512; x3.
    assert count_parameters(adapter) == 1792 + 3 * (590080 + 512) == 1_773_568
    assert cad_parameter_count(256, 3) == 1_773_568
    # The paper's "1.77M" is a rounding of [1.765M, 1.775M).
    assert 1_765_000 <= count_parameters(adapter) < 1_775_000
    assert count_parameters(tiny_cad(depth=2, input_size=64)) == cad_parameter_count(32, 2)


def test_registered_and_not_needing_encoder_grad():
    adapter = MODELS.build(dict(type='CADAdapter', channels=32, embedding_size=16,
                                input_size=128))
    assert isinstance(adapter, CADAdapter)
    assert CADAdapter.encoder_needs_grad is False
    assert adapter.supports_cached_embeddings


def test_output_shape_and_range():
    adapter = tiny_cad().eval()
    delta = adapter(torch.rand(2, 3, 100, 90) * 255)
    assert delta.shape == (2, 32, 16, 16)
    assert delta.abs().max() < 1
    assert delta.abs().max() > 0


def test_list_of_differently_sized_images_equals_framed_batch():
    # Like SAM's frame: the longest side is resized and the rest zero-padded,
    # so the adapter's grid cells cover the image area of the encoder's cells.
    adapter = tiny_cad().eval()
    first, second = torch.rand(3, 128, 128) * 255, torch.rand(3, 200, 160) * 255
    resized = torch.nn.functional.interpolate(second[None], size=(128, 102), mode='bilinear',
                                              align_corners=False)[0]
    framed = torch.nn.functional.pad(resized, (0, 26, 0, 0))
    with torch.no_grad():
        from_list = adapter([first, second])
        from_batch = adapter(torch.stack([first, framed]))
    assert torch.allclose(from_list, from_batch, atol=1e-6)
    assert torch.all(adapter.prepare_inputs([second])[:, :3, :, 102:] == 0)  # RGB padding


def test_prepare_inputs_six_channels_each_scaled_by_its_max():
    adapter = tiny_cad()
    images = torch.rand(2, 3, 128, 128) * 200
    images[1, 2] = 0  # an all-zero channel stays zero (no division by zero)
    prepared = adapter.prepare_inputs(images)
    assert prepared.shape == (2, 6, 128, 128)
    assert torch.isfinite(prepared).all()
    peaks = prepared.amax(dim=(-2, -1))
    expected = torch.ones(2, 6)
    expected[1, 2] = 0
    expected[1, 5] = 0  # the high-pass map of a zero channel is zero too
    assert torch.allclose(peaks, expected, atol=1e-6)
    per_channel_max = images[0].amax(dim=(-2, -1), keepdim=True)
    assert torch.allclose(prepared[0, :3], images[0] / per_channel_max)


def test_high_frequency_channels_match_numpy_per_channel():
    adapter = tiny_cad()
    assert adapter.low_freq_side == 32  # 0.25 x 128
    images = torch.rand(1, 3, 128, 128) * 255
    prepared = adapter.prepare_inputs(images)[0, 3:]
    for channel in range(3):
        spectrum = np.fft.fftshift(np.fft.fft2(images[0, channel].double().numpy()))
        spectrum[64 - 16:64 + 16, 64 - 16:64 + 16] = 0
        high = np.abs(np.fft.ifft2(np.fft.ifftshift(spectrum)))
        assert np.allclose(prepared[channel].numpy(), high / high.max(), atol=1e-4)


def test_forward_follows_the_architecture():
    adapter = tiny_cad().eval()
    images = torch.rand(1, 3, 128, 128) * 255
    with torch.no_grad():
        x = adapter.stem(adapter.prepare_inputs(images))
        total = 0
        for block in adapter.blocks:
            y = block.conv(x)
            y = torch.nn.functional.leaky_relu(block.norm(y), 0.1)
            x = torch.nn.functional.avg_pool2d(x + y, 2)
            total = total + torch.nn.functional.adaptive_avg_pool2d(x, 16)
        assert torch.allclose(adapter(images), torch.tanh(total), atol=1e-6)
    sizes = [block.conv for block in adapter.blocks]
    assert all(conv.dilation == (2, 2) and conv.padding == (2, 2) for conv in sizes)


@pytest.mark.parametrize('kwargs, message', [
    (dict(input_size=100), 'multiple of 2\\*\\*depth \\* embedding_size = 128'),
    (dict(input_size=64), 'last map of 8 px'),
    (dict(input_size=320), 'last map of 40 px, which must be a whole multiple of '
                           'embedding_size=16'),
    (dict(depth=0), 'depth must be a positive integer'),
    (dict(fusion_point='middle'), 'fusion_point must be one of'),
])
def test_bad_sizes_fail_at_construction(kwargs, message):
    with pytest.raises((AdapterCompatibilityError, ValueError), match=message):
        tiny_cad(**kwargs)


def test_channels_mismatch_names_variant(tiny_sam):
    adapter = CADAdapter(channels=256, embedding_size=16, input_size=128)
    with pytest.raises(AdapterCompatibilityError,
                       match=r"SAM variant 'tiny'.*channels=256 but the encoder has "
                             r"out_channels=32"):
        adapter.check_compatible(tiny_sam)
    wrong_grid = CADAdapter(channels=32, embedding_size=64, input_size=512)
    with pytest.raises(AdapterCompatibilityError, match='embedding_size=64 but the encoder '
                                                        'has grid=16'):
        wrong_grid.check_compatible(tiny_sam.image_encoder)
    blocks = CADAdapter(channels=32, embedding_size=16, input_size=128, fusion_point='blocks')
    with pytest.raises(AdapterCompatibilityError, match="embed_dim=64.*fusion_point='blocks'"):
        blocks.check_compatible(tiny_sam)


def test_build_sam_adapter_fills_in_encoder_sizes(tiny_sam):
    adapter = build_sam_adapter(dict(type='CADAdapter', input_size=128), tiny_sam)
    assert (adapter.channels, adapter.embedding_size) == (32, 16)
    blocks = build_sam_adapter(dict(type='CADAdapter', input_size=128, fusion_point='blocks'),
                               tiny_sam)
    assert blocks.channels == 64


def test_encoder_gets_no_gradient_and_backward_never_enters_it(
        tiny_sam, tiny_images, encoder_input, count_saved_tensors, watch_backward):
    encoder = tiny_sam.image_encoder.requires_grad_(False)
    adapter = tiny_cad().train()
    # Even if someone unfreezes the encoder, CAD must not route gradients into it.
    encoder.requires_grad_(True)
    fired = watch_backward({'encoder': encoder, 'neck': encoder.neck,
                            **{f'block{i}': b for i, b in enumerate(encoder.blocks)}})
    with count_saved_tensors() as in_encoder:
        with torch.no_grad():
            embedding = encoder(encoder_input)
    with count_saved_tensors() as in_adapter:
        fused = adapter.fuse(embedding, adapter(tiny_images))
    fused.square().mean().backward()
    assert in_encoder['tensors'] == 0
    assert in_adapter['tensors'] > 0
    assert fired == []
    assert all(param.grad is None for param in encoder.parameters())
    assert all(param.grad is not None and param.grad.abs().sum() > 0
               for param in adapter.parameters())


def test_encode_equals_encoder_plus_scaled_delta(tiny_sam, tiny_images, encoder_input):
    # Left trainable on purpose: encode() itself must keep autograd out of the encoder.
    encoder = tiny_sam.image_encoder.requires_grad_(True)
    adapter = tiny_cad(scale=0.1).eval()
    fused = adapter.encode(encoder, encoder_input, tiny_images)
    with torch.no_grad():
        expected = encoder(encoder_input) + 0.1 * adapter(tiny_images)
    assert fused.shape == (2, 32, 16, 16)
    assert torch.allclose(fused, expected, atol=1e-5)
    fused.sum().backward()
    assert all(param.grad is None for param in encoder.parameters())
    assert adapter.stem.weight.grad is not None


def test_blocks_fusion_backward_stops_at_the_neck(tiny_sam, tiny_images, encoder_input,
                                                  watch_backward):
    encoder = tiny_sam.image_encoder.requires_grad_(False)
    adapter = tiny_cad(channels=64, fusion_point='blocks').eval()
    fired = watch_backward({f'block{i}': b for i, b in enumerate(encoder.blocks)})
    fused = adapter.encode(encoder, encoder_input, tiny_images)
    assert fused.shape == (2, 32, 16, 16)
    fused.sum().backward()
    assert fired == []
    assert all(param.grad is None for param in encoder.parameters())
    assert adapter.stem.weight.grad is not None
    with torch.no_grad():
        zero = copy.deepcopy(adapter)
        zero.scale = 0.0
        assert torch.allclose(zero.encode(encoder, encoder_input, tiny_images),
                              encoder(encoder_input), atol=1e-5)


def test_fuse_shape_mismatch_is_a_clear_error():
    adapter = tiny_cad()
    with pytest.raises(AdapterCompatibilityError, match=r'adapter output \(1, 32, 16, 16\)'):
        adapter.fuse(torch.zeros(1, 256, 64, 64), torch.zeros(1, 32, 16, 16))


def test_bad_images_are_rejected():
    with pytest.raises(ValueError, match='RGB images'):
        tiny_cad()(torch.zeros(1, 4, 128, 128))


def test_checkpointing_same_result_same_stats_less_memory(count_saved_tensors):
    images = torch.rand(2, 3, 128, 128) * 255
    plain, lean = tiny_cad(), tiny_cad(with_cp=True)
    lean.load_state_dict(plain.state_dict())
    results = []
    for adapter in (plain, lean):
        adapter.train()
        with count_saved_tensors() as saved:
            delta = adapter(images)
        delta.square().sum().backward()
        results.append((delta.detach(), saved['bytes'],
                        {n: p.grad.clone() for n, p in adapter.named_parameters()}))
    (plain_delta, plain_bytes, plain_grads), (lean_delta, lean_bytes, lean_grads) = results
    assert torch.allclose(plain_delta, lean_delta, atol=1e-6)
    for name, grad in plain_grads.items():
        assert torch.allclose(grad, lean_grads[name], rtol=1e-4, atol=1e-5), name
    # Running statistics are updated once per forward, not again by the recomputation.
    for (name, buf), lean_buf in zip(plain.named_buffers(), lean.buffers()):
        assert torch.equal(buf, lean_buf), name
    assert lean_bytes < plain_bytes / 2

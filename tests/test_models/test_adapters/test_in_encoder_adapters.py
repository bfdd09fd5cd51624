"""Checks shared by every in-encoder adapter (SAM-Adapter, bottleneck, LoRA) on the tiny SAM."""
import copy

import pytest
import torch
from torch import nn

import epsam  # noqa: F401
from epsam.models.adapters import (AdapterCompatibilityError, BottleneckAdapter,
                                   InEncoderSamAdapter, LoRAAdapter, SAMAdapter, build_sam_adapter,
                                   count_parameters)

# (config, starts as the identity)
ADAPTERS = {
    'lora': (dict(type='LoRAAdapter'), True),
    'bottleneck': (dict(type='BottleneckAdapter'), True),
    'bottleneck_default_init': (dict(type='BottleneckAdapter', zero_init_up=False), False),
    'sam_adapter': (dict(type='SAMAdapter'), False),
    'sam_adapter_zero_up': (dict(type='SAMAdapter', zero_init_up=True), True),
}


def perturb_(adapter):
    """Give every parameter a non-zero value so every one gets a non-zero gradient."""
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for param in adapter.parameters():
            param.add_(0.05 * torch.randn(param.shape, generator=generator))


@pytest.mark.parametrize('name', sorted(ADAPTERS))
def test_identity_at_initialisation_where_expected(name, tiny_sam, encoder_input):
    cfg, is_identity = ADAPTERS[name]
    encoder = tiny_sam.image_encoder
    with torch.no_grad():
        before = encoder(encoder_input)
        adapter = build_sam_adapter(cfg, tiny_sam)
        assert adapter.is_installed and adapter.encoder_needs_grad
        after = encoder(encoder_input)
    assert after.shape == before.shape == (2, 32, 16, 16)
    if is_identity:
        assert torch.equal(after, before)
    else:
        assert not torch.allclose(after, before, atol=1e-4)
    adapter.uninstall()
    with torch.no_grad():
        assert torch.equal(encoder(encoder_input), before)


@pytest.mark.filterwarnings('ignore:Full backward hook is firing')
@pytest.mark.parametrize('name', ['lora', 'bottleneck', 'sam_adapter'])
def test_gradients_reach_adapter_not_encoder_and_backward_crosses_blocks(
        name, tiny_sam, encoder_input, count_saved_tensors, watch_backward):
    encoder = tiny_sam.image_encoder
    with count_saved_tensors() as frozen_only:
        encoder.requires_grad_(False)(encoder_input)
    adapter = build_sam_adapter(ADAPTERS[name][0], tiny_sam)
    perturb_(adapter)
    fired = watch_backward({f'block{i}': b for i, b in enumerate(encoder.blocks)})
    with count_saved_tensors() as with_adapter:
        output = encoder(encoder_input)
    output.square().mean().backward()
    # A frozen encoder alone saves nothing; the adapter makes autograd keep the
    # blocks' activations, and backward runs through the frozen blocks.
    assert frozen_only['tensors'] == 0
    assert with_adapter['tensors'] > 0
    assert f'block{len(encoder.blocks) - 1}' in fired
    assert all(not p.requires_grad and p.grad is None for p in encoder.parameters())
    for param_name, param in adapter.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, param_name


def test_lora_math_on_q_and_v_only(tiny_sam):
    adapter = build_sam_adapter(dict(type='LoRAAdapter', rank=2, alpha=4.0), tiny_sam)
    assert adapter.scaling == 2.0
    perturb_(adapter)
    qkv = tiny_sam.image_encoder.blocks[0].attn.qkv
    x = torch.randn(1, 3, 3, 64)
    with torch.no_grad():
        base = nn.functional.linear(x, qkv.weight, qkv.bias)
        out = qkv(x)
        lora = adapter.lora[0]
        dq = lora['q'].up(lora['q'].down(x)) * 2.0
        dv = lora['v'].up(lora['v'].down(x)) * 2.0
    assert torch.allclose(out[..., :64], base[..., :64] + dq, atol=1e-5)
    assert torch.equal(out[..., 64:128], base[..., 64:128])
    assert torch.allclose(out[..., 128:], base[..., 128:] + dv, atol=1e-5)
    assert set(adapter.lora[0]) == {'q', 'v'}


def test_bottleneck_mlp_adapter_is_scaled_and_parallel(tiny_sam):
    adapter = build_sam_adapter(dict(type='BottleneckAdapter', mlp_scale=0.5), tiny_sam)
    perturb_(adapter)
    block = tiny_sam.image_encoder.blocks[0]
    tokens = torch.randn(1, 4, 4, 64)
    with torch.no_grad():
        expected = (block.mlp.lin2(block.mlp.act(block.mlp.lin1(tokens)))
                    + 0.5 * adapter.mlp_adapters[0].up(
                        adapter.mlp_adapters[0].act(adapter.mlp_adapters[0].down(tokens))))
        assert torch.allclose(block.mlp(tokens), expected, atol=1e-5)
        attn_in = torch.randn(1, 4, 4, 64)
        raw = adapter.attn_adapters[0]
        adapter.uninstall()
        plain = block.attn(attn_in)
        adapter.install(tiny_sam.image_encoder)
        assert torch.allclose(block.attn(attn_in), plain + raw.up(raw.act(raw.down(plain))),
                              atol=1e-5)
    assert adapter.hidden_dim == 16  # 0.25 x 64


def test_sam_adapter_adds_a_prompt_to_every_block_input(tiny_sam, encoder_input):
    encoder = tiny_sam.image_encoder
    adapter = build_sam_adapter(dict(type='SAMAdapter', reduction=4), tiny_sam)
    assert adapter.hidden_dim == 16 and adapter.low_freq_side == 128  # sqrt(0.25) x 256
    # Hooks registered after the install see each block's input with the prompt added.
    seen = []
    handles = [block.register_forward_pre_hook(lambda mod, args: seen.append(args[0]))
               for block in encoder.blocks]
    with torch.no_grad():
        encoder(encoder_input)
    for handle in handles:
        handle.remove()
    assert adapter._image is None and adapter._features is None
    adapter.uninstall()
    with torch.no_grad():
        tokens = encoder.patch_embed(encoder_input)
        features = adapter.prompt_features(encoder_input, tokens)
        assert features.shape == (2, 16, 16, 16)
        x = tokens + encoder.pos_embed
        for index, block in enumerate(encoder.blocks):
            prompt = adapter.block_prompt(index, features)
            assert prompt.shape == (2, 16, 16, 64) and prompt.abs().max() > 0
            x = x + prompt
            assert torch.allclose(seen[index], x, atol=1e-5), index
            x = block(x)


def test_install_twice_is_an_error(tiny_sam):
    adapter = build_sam_adapter(dict(type='LoRAAdapter'), tiny_sam)
    with pytest.raises(RuntimeError, match='already installed'):
        adapter.install(tiny_sam.image_encoder)


def test_install_freezes_encoder_but_not_adapter(tiny_sam):
    tiny_sam.image_encoder.requires_grad_(True)
    adapter = build_sam_adapter(dict(type='BottleneckAdapter'), tiny_sam)
    assert not any(p.requires_grad for p in tiny_sam.image_encoder.parameters())
    assert all(p.requires_grad for p in adapter.parameters())
    # The encoder's state dict (and so SAM checkpoints) is unchanged by the install.
    assert not any('adapter' in key for key in tiny_sam.state_dict())


def test_deepcopy_of_a_model_holding_both_uses_the_copied_adapter(tiny_sam, encoder_input):
    holder = nn.Module()
    holder.sam = tiny_sam
    holder.adapter = build_sam_adapter(dict(type='LoRAAdapter'), tiny_sam)
    clone = copy.deepcopy(holder)
    perturb_(clone.adapter)
    with torch.no_grad():
        original = holder.sam.image_encoder(encoder_input)
        holder.adapter.uninstall()
        assert torch.equal(holder.sam.image_encoder(encoder_input), original)
        changed = clone.sam.image_encoder(encoder_input)
    assert not torch.allclose(changed, original, atol=1e-4)
    clone.adapter.uninstall()
    with torch.no_grad():
        assert torch.equal(clone.sam.image_encoder(encoder_input), original)


@pytest.mark.parametrize('adapter_cls, kwargs, message', [
    (LoRAAdapter, dict(embed_dim=768, depth=2),
     "variant 'tiny'.*embed_dim=768 but the encoder has embed_dim=64"),
    (BottleneckAdapter, dict(embed_dim=64, depth=12), 'depth=12 but the encoder has depth=2'),
    (SAMAdapter, dict(embed_dim=64, depth=2, img_size=1024),
     'img_size=1024 but the encoder has img_size=256'),
])
def test_size_mismatch_names_variant_and_setting(adapter_cls, kwargs, message, tiny_sam):
    adapter = adapter_cls(**kwargs)
    with pytest.raises(AdapterCompatibilityError, match=message):
        adapter.check_compatible(tiny_sam)
    with pytest.raises(AdapterCompatibilityError, match=message):
        adapter.install(tiny_sam)
    unnamed = message.replace("variant 'tiny'", 'the SAM image encoder')
    with pytest.raises(AdapterCompatibilityError, match=unnamed):
        adapter.install(tiny_sam.image_encoder)
    assert not adapter.is_installed


@pytest.mark.parametrize('replacement, found', [
    (nn.Linear(64, 128), r'Linear\(64 -> 128\)'),
    (nn.Identity(), 'Identity'),
])
def test_lora_rejects_an_unexpected_qkv(replacement, found, tiny_sam):
    tiny_sam.image_encoder.blocks[1].attn.qkv = replacement
    with pytest.raises(AdapterCompatibilityError,
                       match=rf"blocks\[1\]\.attn\.qkv of SAM variant 'tiny' to be "
                             rf'Linear\(64 -> 192\), found {found}'):
        build_sam_adapter(dict(type='LoRAAdapter'), tiny_sam)


@pytest.mark.parametrize('adapter_cls, kwargs, message', [
    (LoRAAdapter, dict(rank=0), 'rank must be an integer'),
    (LoRAAdapter, dict(targets=('q', 'x')), 'targets must be distinct names'),
    (BottleneckAdapter, dict(ratio=0.001), 'leaves no hidden unit'),
    (SAMAdapter, dict(reduction=128), 'leaves no prompt channel'),
    (LoRAAdapter, dict(depth=-1), 'depth must be a positive integer'),
])
def test_bad_settings_fail_at_construction(adapter_cls, kwargs, message):
    settings = dict(embed_dim=64, depth=2)
    settings.update(kwargs)
    with pytest.raises(ValueError, match=message):
        adapter_cls(**settings)


def test_parameter_counts_for_vit_b():
    with torch.device('meta'):
        lora = LoRAAdapter(embed_dim=768, depth=12)
        bottleneck = BottleneckAdapter(embed_dim=768, depth=12)
        sam_adapter = SAMAdapter(embed_dim=768, depth=12)
    # LoRA: per block, q and v each 768*4 + 4*768.
    assert count_parameters(lora) == 12 * 2 * (2 * 768 * 4) == 147_456
    # Bottleneck 768 -> 192 -> 768 with biases, two per block.
    assert count_parameters(bottleneck) == 12 * 2 * (768 * 192 + 192 + 192 * 768 + 768)
    # SAM-Adapter, d = 24: down 768*24+24, patch conv 3*24*16*16+24,
    # 12 block MLPs 24*24+24, shared up 24*768+768.
    assert count_parameters(sam_adapter) == (768 * 24 + 24 + 3 * 24 * 256 + 24
                                             + 12 * (24 * 24 + 24) + 24 * 768 + 768)
    assert all(issubclass(cls, InEncoderSamAdapter)
               for cls in (LoRAAdapter, BottleneckAdapter, SAMAdapter))

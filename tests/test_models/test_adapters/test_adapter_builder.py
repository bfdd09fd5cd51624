"""Every registered SAM adapter builds for the tiny SAM, runs, and trains only itself."""
import pytest
import torch

import epsam  # noqa: F401
import epsam.models.adapters  # noqa: F401  (registers the adapters)
from epsam.models.adapters import (AdapterCompatibilityError, BaseSamAdapter, EncoderSpec,
                                   LoRAAdapter, ParallelSamAdapter, build_sam_adapter,
                                   count_parameters, get_image_encoder, trainable_parameters)
from epsam.registry import MODELS

REGISTERED = sorted(name for name, cls in MODELS.module_dict.items()
                    if isinstance(cls, type) and issubclass(cls, BaseSamAdapter))
# Settings the encoder does not determine, per adapter, to keep the tiny run small.
SMALL = {'CADAdapter': dict(input_size=128)}


def test_registry_lists_the_adapters():
    assert set(REGISTERED) >= {'CADAdapter', 'SAMAdapter', 'BottleneckAdapter', 'LoRAAdapter'}


@pytest.mark.parametrize('name', REGISTERED)
def test_every_registered_adapter_trains_only_itself(name, tiny_sam, tiny_images,
                                                     encoder_input):
    adapter = build_sam_adapter(dict(type=name, **SMALL.get(name, {})), tiny_sam)
    encoder = tiny_sam.image_encoder.requires_grad_(False)
    if isinstance(adapter, ParallelSamAdapter):
        assert not adapter.encoder_needs_grad
        embedding = adapter.encode(encoder, encoder_input, tiny_images)
    else:
        assert adapter.encoder_needs_grad
        embedding = encoder(encoder_input)
    assert embedding.shape == (2, 32, 16, 16)
    embedding.sum().backward()
    names = [param_name for param_name, _ in trainable_parameters(adapter)]
    assert names and len(names) == len(list(adapter.parameters()))
    assert all(param.grad is not None for param in adapter.parameters())
    assert not list(trainable_parameters(tiny_sam.image_encoder))
    assert count_parameters(adapter, trainable_only=True) == count_parameters(adapter) > 0


def test_explicit_setting_is_checked_not_overridden(tiny_sam):
    with pytest.raises(AdapterCompatibilityError, match="variant 'tiny'.*depth=12"):
        build_sam_adapter(dict(type='LoRAAdapter', depth=12), tiny_sam)
    adapter = build_sam_adapter(dict(type='LoRAAdapter', rank=2), tiny_sam, install=False)
    assert (adapter.embed_dim, adapter.depth, adapter.rank) == (64, 2, 2)
    assert not adapter.is_installed


def test_build_from_a_built_adapter_checks_it(tiny_sam):
    adapter = LoRAAdapter(embed_dim=64, depth=2)
    assert build_sam_adapter(adapter, tiny_sam) is adapter and adapter.is_installed
    with pytest.raises(AdapterCompatibilityError, match='embed_dim=768'):
        build_sam_adapter(LoRAAdapter(embed_dim=768, depth=2), tiny_sam)


@pytest.mark.parametrize('cfg, error, message', [
    (dict(rank=4), KeyError, 'needs a "type"'),
    (dict(type='NoSuchAdapter'), KeyError, 'NoSuchAdapter'),
    (dict(type='ADL'), TypeError, 'is not a SAM adapter'),
])
def test_bad_configs(cfg, error, message, tiny_sam):
    with pytest.raises(error, match=message):
        build_sam_adapter(cfg, tiny_sam)


def test_encoder_spec_of_real_variants_without_allocating():
    from epsam.models.sam import build_sam
    with torch.device('meta'):
        sam = build_sam('vit_b')
    spec = EncoderSpec.of(sam)
    assert spec == EncoderSpec(name='vit_b', embed_dim=768, depth=12, img_size=1024,
                               patch_size=16, out_channels=256)
    assert spec.grid == 64
    assert EncoderSpec.of(sam.image_encoder).name is None
    with torch.device('meta'):
        lite = build_sam('lite_medsam')
    assert EncoderSpec.of(lite) == EncoderSpec(
        name='lite_medsam', embed_dim=None, depth=None, img_size=256, patch_size=None,
        out_channels=256, family='tiny_vit', grid_size=64)
    with pytest.raises(TypeError, match='Sam, ImageEncoderViT or TinyViT'):
        get_image_encoder(torch.nn.Linear(2, 2))


def test_only_neck_fused_parallel_adapters_can_use_cached_embeddings(tiny_sam):
    neck = build_sam_adapter(dict(type='CADAdapter', input_size=128), tiny_sam)
    blocks = build_sam_adapter(dict(type='CADAdapter', input_size=128, fusion_point='blocks'),
                               tiny_sam)
    lora = build_sam_adapter(dict(type='LoRAAdapter'), tiny_sam, install=False)
    assert neck.supports_cached_embeddings
    assert not blocks.supports_cached_embeddings
    assert not lora.supports_cached_embeddings

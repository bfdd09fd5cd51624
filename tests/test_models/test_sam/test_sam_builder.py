import pytest
import torch
from segment_anything.modeling import Sam

import epsam  # noqa: F401  (before mmseg.models)
from epsam.models.sam import (SAM_VARIANTS, SamInputTransform, build_sam, get_sam_variant,
                              list_sam_variants, register_sam_variant, sam_state_dict_shapes)
from epsam.registry import SAM_BUILDERS


def test_every_variant_is_registered():
    names = list_sam_variants()
    assert {'vit_b', 'vit_l', 'vit_h', 'tiny', 'lite_medsam', 'mobile_sam'} <= set(names)
    for name in names:
        assert name in SAM_BUILDERS.module_dict


@pytest.mark.parametrize('name,depth,width', [('vit_b', 12, 768), ('vit_l', 24, 1024),
                                              ('vit_h', 32, 1280)])
def test_official_variants_match_build_sam_py(name, depth, width):
    variant = get_sam_variant(name)
    assert (variant.encoder_depth, variant.encoder_embed_dim) == (depth, width)
    assert variant.img_size == 1024 and variant.image_embedding_size == 64
    assert variant.encoder_global_attn_indexes[-1] == depth - 1


def test_vit_b_parameter_count_without_allocating():
    with torch.device('meta'):
        sam = build_sam('vit_b')
    assert isinstance(sam, Sam)
    assert all(p.is_meta for p in sam.parameters())
    total = sum(p.numel() for p in sam.parameters())
    assert total == pytest.approx(93.7e6, rel=1e-3)
    # the cached meta shapes agree with the allocated-free model
    shapes = sam_state_dict_shapes(get_sam_variant('vit_b'))
    assert shapes['image_encoder.pos_embed'] == (1, 64, 64, 768)


@pytest.mark.parametrize('name', sorted(SAM_VARIANTS))
def test_registry_builds_each_variant_on_meta(name):
    with torch.device('meta'):
        sam = SAM_BUILDERS.build(dict(type=name))
    variant = get_sam_variant(name)
    assert sam.variant == variant
    if variant.encoder_family == 'vit':
        assert len(sam.image_encoder.blocks) == variant.encoder_depth
    else:
        assert [len(layer.blocks) for layer in sam.image_encoder.layers] == list(
            variant.encoder_depths)
    assert sam.image_encoder.img_size == variant.img_size


def test_tiny_forward_gives_embedding_grid():
    sam = build_sam('tiny')
    assert not sam.training
    transform = SamInputTransform.from_sam(sam)
    images = torch.randint(0, 256, (2, 3, 128, 96), dtype=torch.uint8)
    with torch.no_grad():
        embedding = sam.image_encoder(transform.preprocess(images))
    variant = sam.variant
    grid = variant.img_size // 16
    assert embedding.shape == (2, variant.prompt_embed_dim, grid, grid)
    assert torch.isfinite(embedding).all()


def test_overrides_change_the_numbers():
    sam = build_sam('tiny', encoder_depth=3, encoder_global_attn_indexes=[2])
    assert len(sam.image_encoder.blocks) == 3
    assert sam.variant.encoder_global_attn_indexes == (2, )
    assert sam.image_encoder.blocks[2].window_size == 0
    assert sam.image_encoder.blocks[0].window_size == get_sam_variant('tiny').window_size


def test_bad_names_and_overrides_are_explained():
    with pytest.raises(KeyError, match='known variants'):
        build_sam('vit_x')
    with pytest.raises(TypeError, match='encoder_depht'):
        build_sam('tiny', encoder_depht=3)
    with pytest.raises(ValueError, match='global_attn_indexes'):
        build_sam('tiny', encoder_global_attn_indexes=(5, ))


def test_register_new_variant():
    variant = get_sam_variant('tiny').replace(name='tiny_test_wide', encoder_embed_dim=96)
    register_sam_variant(variant)
    try:
        assert 'tiny_test_wide' in list_sam_variants()
        sam = SAM_BUILDERS.build(dict(type='tiny_test_wide'))
        assert sam.image_encoder.patch_embed.proj.out_channels == 96
        with pytest.raises(KeyError, match='already registered'):
            register_sam_variant(variant.replace(encoder_depth=3))
    finally:
        SAM_VARIANTS.pop('tiny_test_wide')
        SAM_BUILDERS.module_dict.pop('tiny_test_wide')

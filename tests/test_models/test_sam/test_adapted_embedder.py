"""Inference with adapter-tuned SAMs: embed_images, AdaptedSamEmbedder, cache safety."""
import numpy as np
import pytest
import torch
from mmseg.structures import SegDataSample

import epsam  # noqa: F401
from epsam.models.adapters import adapter_supports_cached_embeddings
from epsam.models.sam import AdaptedSamEmbedder, SamEmbeddingCache, SamInputTransform
from epsam.pseudo_labels.sam_inference import BatchedSamPredictor
from epsam.registry import MODELS

SIZE = 64
ADAPTERS = {
    'cad': dict(type='CADAdapter', input_size=128),
    'cad_blocks': dict(type='CADAdapter', input_size=128, fusion_point='blocks'),
    'sam_adapter': dict(type='SAMAdapter'),
    'bottleneck': dict(type='BottleneckAdapter'),
    'lora': dict(type='LoRAAdapter', rank=2),
}


def build(adapter, **kwargs):
    """A tiny tuning model whose adapter has non-trivial weights (LoRA's B starts at 0)."""
    torch.manual_seed(0)
    model = MODELS.build(dict(type='SamTuningModel', sam=dict(variant='tiny'), adapter=adapter,
                              **kwargs))
    if model.adapter is not None:
        with torch.no_grad():
            for param in model.adapter.parameters():
                param.add_(0.05 * torch.randn_like(param))
    return model.eval()


def images(n=2):
    generator = torch.Generator().manual_seed(3)
    return [torch.randint(0, 256, (3, SIZE, SIZE), generator=generator, dtype=torch.uint8)
            for _ in range(n)]


def plain_embeddings(model, batch):
    """The frozen encoder's own output (an in-encoder adapter uninstalled meanwhile)."""
    transform = SamInputTransform.from_sam(model.sam)
    installed = getattr(model.adapter, 'is_installed', False)
    if installed:
        model.adapter.uninstall()
    with torch.no_grad():
        out = torch.cat([model.sam.image_encoder(transform.preprocess(image[None].float()))
                         for image in batch])
    if installed:
        model.adapter.install(model.sam)
    return out


@pytest.mark.parametrize('name', sorted(ADAPTERS))
def test_embed_images_is_the_training_path_and_uses_the_adapter(name):
    model = build(ADAPTERS[name])
    batch = images()
    samples = [SegDataSample(metainfo=dict(img_shape=(SIZE, SIZE))) for _ in batch]
    inputs = model.data_preprocessor(dict(inputs=[b.flip(0) for b in batch],  # BGR in
                                          data_samples=samples), False)['inputs']
    with torch.no_grad():
        embedded = model.embed_images([image.float() for image in batch])
        trained = torch.stack(model.image_embeddings(inputs, samples))
    torch.testing.assert_close(embedded, trained)
    assert (embedded - plain_embeddings(model, batch)).abs().max() > 1e-4


def test_embed_images_rejects_an_empty_list():
    with pytest.raises(ValueError, match='no image given'):
        build(None).embed_images([])


@pytest.mark.parametrize('name', ['cad', 'lora'])
def test_adapted_embedder_gives_the_models_embeddings_and_counts(name):
    model = build(ADAPTERS[name])
    embedder = AdaptedSamEmbedder(model)
    batch = images(3)
    out = embedder.get_or_compute(batch)
    with torch.no_grad():
        torch.testing.assert_close(out, model.embed_images([b.float() for b in batch]))
    assert not out.requires_grad
    assert embedder.stats() == dict(encoder_passes=3, encoder_batches=1)
    assert embedder.adapter is model.adapter


def test_adapted_embedder_reads_the_frozen_encoder_part_from_the_models_cache(tmp_path):
    model = build(ADAPTERS['cad'], embedding_cache=dict(cache_dir=str(tmp_path)))
    embedder = AdaptedSamEmbedder(model)
    batch = images()
    first = embedder.get_or_compute(batch)
    assert embedder.stats()['encoder_passes'] == 2
    second = embedder.get_or_compute(batch)
    assert embedder.stats()['encoder_passes'] == 2  # all hits
    torch.testing.assert_close(first, second)


def test_adapted_embedder_needs_an_adapter():
    with pytest.raises(ValueError, match='has no adapter'):
        AdaptedSamEmbedder(build(None))


def test_predictor_decodes_the_adapted_embeddings():
    model = build(ADAPTERS['lora'])
    predictor = BatchedSamPredictor(model.sam, dict(type='FullImageBoxPrompt'),
                                    cache=AdaptedSamEmbedder(model))
    batch = images()
    encoded = predictor.encode([np.ascontiguousarray(b.permute(1, 2, 0).numpy()) for b in batch])
    with torch.no_grad():
        torch.testing.assert_close(encoded, model.embed_images([b.float() for b in batch]))
    assert predictor.images_encoded == 2


@pytest.mark.parametrize('cfg, expected', [
    (None, True),
    (dict(type='CADAdapter'), True),
    (dict(type='CADAdapter', fusion_point='neck', with_cp=True), True),
    (dict(type='CADAdapter', fusion_point='blocks'), False),
    (dict(type='SAMAdapter'), False),
    (dict(type='BottleneckAdapter'), False),
    (dict(type='LoRAAdapter', rank=4), False),
])
def test_adapter_supports_cached_embeddings_from_the_config(cfg, expected):
    assert adapter_supports_cached_embeddings(cfg) is expected
    if cfg is not None:  # agrees with the built adapter
        assert build(cfg).adapter.supports_cached_embeddings is expected


def test_adapter_supports_cached_embeddings_names_an_unknown_type():
    with pytest.raises(KeyError, match="'NoSuchAdapter'"):
        adapter_supports_cached_embeddings(dict(type='NoSuchAdapter'))


def test_embedding_cache_refuses_an_encoder_with_an_in_encoder_adapter(tmp_path):
    model = build(ADAPTERS['lora'])
    cache = SamEmbeddingCache(str(tmp_path), model.sam.image_encoder,
                              input_transform=SamInputTransform.from_sam(model.sam),
                              encoder_tag='tiny')
    with pytest.raises(RuntimeError, match='LoRAAdapter is installed in the image encoder'):
        cache.get_or_compute(images())
    assert not list(tmp_path.iterdir())  # nothing cached
    model.adapter.uninstall()
    out = cache.get_or_compute(images())
    torch.testing.assert_close(out, plain_embeddings(model, images()), atol=2e-3, rtol=2e-3)


def test_a_deep_copied_model_keeps_its_adapter_mark_on_its_own_encoder():
    import copy
    model = build(ADAPTERS['bottleneck'])
    twin = copy.deepcopy(model)
    twin.adapter.uninstall()
    assert not hasattr(twin.sam.image_encoder, 'epsam_in_encoder_adapter')
    assert model.sam.image_encoder.epsam_in_encoder_adapter == 'BottleneckAdapter'

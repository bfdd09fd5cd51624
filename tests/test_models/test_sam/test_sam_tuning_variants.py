"""SamTuningModel with each tuning variant: decoder-only, CAD, in-encoder adapters, cache."""
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

import epsam  # noqa: F401
from epsam.models.adapters import AdapterCompatibilityError
from epsam.registry import MODELS

SIZE = 64
VARIANTS = {
    'decoder_only': None,
    'cad': dict(type='CADAdapter', input_size=128),
    'cad_lean': dict(type='CADAdapter', input_size=128, with_cp=True),
    'sam_adapter': dict(type='SAMAdapter'),
    'bottleneck': dict(type='BottleneckAdapter'),
    'lora': dict(type='LoRAAdapter', rank=2),
}
IN_ENCODER = {'sam_adapter', 'bottleneck', 'lora'}


def make_batch(model, n=2):
    images, samples = [], []
    for k in range(n):
        image = torch.full((3, SIZE, SIZE), 30, dtype=torch.uint8)
        image[:, 8 + 4 * k:40 + 4 * k, 10:42] = 220
        mask = torch.zeros(1, SIZE, SIZE, dtype=torch.long)
        mask[:, 8 + 4 * k:40 + 4 * k, 10:42] = 1
        sample = SegDataSample(metainfo=dict(img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE)))
        sample.gt_sem_seg = PixelData(data=mask)
        sample.prompt_points = torch.tensor([[26.0, 24.0 + 4 * k]])
        sample.prompt_labels = torch.ones(1, dtype=torch.int)
        images.append(image)
        samples.append(sample)
    return model.data_preprocessor(dict(inputs=images, data_samples=samples), True)


def build(adapter, **kwargs):
    torch.manual_seed(0)
    return MODELS.build(dict(type='SamTuningModel', sam=dict(variant='tiny'), adapter=adapter,
                             **kwargs))


@pytest.mark.parametrize('name', sorted(VARIANTS))
def test_each_variant_trains_only_its_own_parameters(name):
    model = build(VARIANTS[name])
    model.train()
    grad_enabled_in_encoder = []
    handle = model.sam.image_encoder.blocks[0].register_forward_hook(
        lambda *_: grad_enabled_in_encoder.append(torch.is_grad_enabled()))
    losses = model(**make_batch(model), mode='loss')
    sum(losses.values()).backward()
    handle.remove()

    # The encoder's own weights never get a gradient.
    for param in model.sam.image_encoder.parameters():
        assert param.grad is None
    # Backward enters the encoder only for in-encoder adapters (the frozen
    # encoder takes the images one per call on a CPU: one entry per call).
    assert set(grad_enabled_in_encoder) == {name in IN_ENCODER}
    assert any(p.grad is not None for p in model.sam.mask_decoder.parameters())
    if model.adapter is not None:
        grads = [p.grad for p in model.adapter.parameters() if p.requires_grad]
        assert grads and all(g is not None for g in grads)


def test_cad_changes_the_embedding_and_decoder_only_does_not():
    base, cad = build(None), build(VARIANTS['cad'])
    cad.sam.load_state_dict(base.sam.state_dict())
    base.eval(), cad.eval()
    data = make_batch(base)
    plain = base.image_embeddings(data['inputs'], data['data_samples'])
    fused = cad.image_embeddings(data['inputs'], data['data_samples'])
    delta = (torch.stack(fused) - torch.stack(plain)).abs()
    assert 0 < delta.max() <= 0.1 + 1e-6  # scale 0.1 x tanh


def test_embedding_cache_gives_the_same_loss_and_skips_the_encoder(tmp_path):
    model = build(VARIANTS['cad'], embedding_cache=dict(cache_dir=str(tmp_path)))
    model.eval()
    data = make_batch(model)
    first = model(**data, mode='tensor')[0]
    again = model(**make_batch(model), mode='tensor')[0]
    stats = model.embedding_cache.stats()
    assert stats['encoder_passes'] == 2 and stats['hits'] == 2
    assert torch.equal(first, again)


@pytest.mark.parametrize('name', sorted(IN_ENCODER))
def test_cache_with_an_in_encoder_adapter_is_refused_at_build_time(name, tmp_path):
    with pytest.raises(ValueError, match='cached encoder outputs cannot be used'):
        build(VARIANTS[name], embedding_cache=dict(cache_dir=str(tmp_path)))


def test_adapter_that_does_not_fit_the_variant_fails_at_build_time():
    with pytest.raises(AdapterCompatibilityError, match='tiny'):
        build(dict(type='LoRAAdapter', embed_dim=768))
    with pytest.raises((AdapterCompatibilityError, ValueError), match='input_size'):
        build(dict(type='CADAdapter', input_size=100))

"""The pipeline's SAM for pseudo-labelling and evaluation, with each tuning variant."""
from typing import Tuple

import pytest
import torch
from mmengine.config import Config

import epsam  # noqa: F401
from epsam.models.sam import AdaptedSamEmbedder, SamEmbeddingCache
from epsam.pipeline.context import PipelineContext
from epsam.pipeline.stage_models import load_inference_sam
from epsam.pipeline.stages import sam_tuning_config
from epsam.registry import MODELS
from tests.conftest import REPO_ROOT

TUNING_CONFIG = str(REPO_ROOT / 'configs' / 'sam_tuning' /
                    'sam-{}_tiny_1xb4-10e_pseudo-masks.py')


def context(tmp_path, variant: str, cache: bool = True) -> PipelineContext:
    cfg = Config(dict(
        data_root=str(tmp_path / 'data'),
        split_prefixes=dict(train=dict(img_path='train/image', seg_map_path='train/mask'),
                            test=dict(img_path='test/image', seg_map_path='test/mask')),
        train_split='train', test_split='test', sam=dict(variant='tiny', checkpoint=None),
        sam_tuning=dict(config=TUNING_CONFIG.format(variant)),
        embedding_cache=dict(enabled=cache)))
    return PipelineContext(cfg, str(tmp_path / 'work'))


def tuned_checkpoint(ctx: PipelineContext, path) -> Tuple[str, torch.nn.Module]:
    """A checkpoint of the variant's tuning model with non-trivial adapter weights."""
    cfg = Config.fromfile(ctx.cfg.sam_tuning.config)
    cfg.model.sam = ctx.sam_cfg
    cfg.model.pop('embedding_cache', None)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    with torch.no_grad():
        for param in model.adapter.parameters():
            param.add_(0.05 * torch.randn_like(param))
    torch.save(dict(state_dict=model.state_dict()), str(path))
    return str(path), model.eval()


def images():
    generator = torch.Generator().manual_seed(5)
    return [torch.randint(0, 256, (3, 48, 48), generator=generator, dtype=torch.uint8)
            for _ in range(2)]


@pytest.mark.parametrize('variant, cached', [('cad', True), ('cad-lean', True),
                                             ('samadapter', False), ('bottleneck', False),
                                             ('lora', False)])
def test_tuned_variant_infers_with_its_adapter(tmp_path, variant, cached):
    ctx = context(tmp_path, variant)
    checkpoint, reference = tuned_checkpoint(ctx, tmp_path / 'tuned.pth')
    sam, embedder = load_inference_sam(ctx, checkpoint)
    assert isinstance(embedder, AdaptedSamEmbedder) and sam is embedder.model.sam
    assert isinstance(embedder.model.embedding_cache, SamEmbeddingCache) == cached
    with torch.no_grad():
        expected = reference.embed_images([image.float() for image in images()])
    torch.testing.assert_close(embedder.get_or_compute(images()), expected,
                               atol=5e-3 if cached else 1e-5, rtol=5e-3 if cached else 1e-5)


@pytest.mark.parametrize('variant', ['cad', 'lora'])
def test_the_untuned_row_is_the_original_sam_without_adapter(tmp_path, variant):
    ctx = context(tmp_path, variant)
    sam, embedder = load_inference_sam(ctx, None)
    assert isinstance(embedder, SamEmbeddingCache)  # the shared cache of the plain encoder
    assert not hasattr(sam.image_encoder, 'epsam_in_encoder_adapter')
    _, reference = tuned_checkpoint(ctx, tmp_path / 'tuned.pth')
    # Same seed, same SAM weights as the tuning run starts from.
    for (name, mine), theirs in zip(sam.state_dict().items(), reference.sam.state_dict().values()):
        assert torch.equal(mine, theirs), name


@pytest.mark.parametrize('variant, cached', [('decoder', True), ('cad', True),
                                             ('cad-lean', True), ('lora', False),
                                             ('samadapter', False)])
def test_tuning_uses_the_shared_cache_only_where_the_adapter_allows(tmp_path, variant, cached):
    ctx = context(tmp_path, variant)
    cfg = sam_tuning_config(ctx, str(tmp_path / 'masks'))
    cache = cfg.model.get('embedding_cache')
    if cached:
        assert cache.cache_dir == ctx.embedding_cache_dir
    else:
        assert cache is None
    MODELS.build(cfg.model)  # builds: no cache with an in-encoder adapter

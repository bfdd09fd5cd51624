import pytest
import torch

import epsam  # noqa: F401
from epsam.models.layers import ADL


def _features():
    # Channel mean (attention) of sample 0: a ramp 0..15 over a 4x4 map.
    x = torch.arange(16, dtype=torch.float32).view(1, 1, 4, 4).repeat(2, 3, 1, 1) + 1.0
    x[1] = x[1].flip(-1) * 2  # sample 1: different layout and scale
    return x


def test_identity_in_eval():
    layer = ADL(drop_rate=1.0, gamma=0.5).eval()
    x = torch.rand(2, 3, 5, 5)
    assert torch.equal(layer(x), x)


def test_drop_mask_zeros_exactly_pixels_above_gamma_max():
    x = _features()
    layer = ADL(drop_rate=1.0, gamma=0.8).train()
    out = layer(x)
    attention = x.mean(1, keepdim=True)
    for sample in range(2):
        limit = 0.8 * attention[sample].max()
        dropped = (attention[sample, 0] > limit)
        # sample 0: values 1..16, limit 12.8 -> values 13..16 dropped (4 pixels)
        assert dropped.sum() == 4
        assert torch.all(out[sample][:, dropped] == 0)
        assert torch.equal(out[sample][:, ~dropped], x[sample][:, ~dropped])


def test_importance_map_branch():
    x = _features()
    layer = ADL(drop_rate=0.0).train()
    expected = x * torch.sigmoid(x.mean(1, keepdim=True))
    assert torch.allclose(layer(x), expected)


def test_random_choice_per_forward_follows_torch_rng():
    x = _features()
    layer = ADL(drop_rate=0.5, gamma=0.8).train()
    drop = x * layer.drop_mask(x)
    importance = x * layer.importance_map(x)

    def run(n):
        choices = []
        for _ in range(n):
            out = layer(x)
            if torch.equal(out, drop):
                choices.append(True)
            else:
                assert torch.allclose(out, importance)
                choices.append(False)
        return choices

    torch.manual_seed(3)
    first = run(40)
    torch.manual_seed(3)
    expected = [bool(torch.rand(()) < 0.5) for _ in range(40)]
    torch.manual_seed(3)
    assert run(40) == first == expected
    assert 5 < sum(first) < 35  # both branches occur


def test_bad_arguments():
    with pytest.raises(ValueError, match='drop_rate'):
        ADL(drop_rate=1.5)
    with pytest.raises(ValueError, match='gamma'):
        ADL(gamma=-0.1)
    with pytest.raises(ValueError, match=r'\(B, C, H, W\)'):
        ADL().train()(torch.rand(3, 4))


def test_pixel_exactly_at_gamma_max_is_kept():
    x = torch.tensor([4.0, 8.0, 16.0]).view(1, 1, 1, 3)
    out = ADL(drop_rate=1.0, gamma=0.5).train()(x)
    assert out.flatten().tolist() == [4.0, 8.0, 0.0]

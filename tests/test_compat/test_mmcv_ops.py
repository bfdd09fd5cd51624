"""The pure-PyTorch stand-ins for mmcv's compiled ops."""
import subprocess
import sys

import pytest
import torch

from epsam.compat import mmcv_ops


def test_import_epsam_then_mmseg_models_works_in_a_fresh_interpreter():
    code = ('import epsam, mmseg.models; from epsam.compat.mmcv_ops import '
            'has_compiled_mmcv_ops, is_fallback_active; '
            'assert is_fallback_active() != has_compiled_mmcv_ops(); print("ok")')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith('ok')


def test_point_sample_matches_grid_sample_on_known_values():
    feats = torch.arange(16, dtype=torch.float32).view(1, 1, 4, 4)
    # Relative coordinates of pixel centres (align_corners=False): (x+0.5)/W.
    points = torch.tensor([[[0.125, 0.125], [0.875, 0.125], [0.375, 0.625]]])
    out = mmcv_ops.point_sample(feats, points)
    assert out.shape == (1, 1, 3)
    assert out.flatten().tolist() == pytest.approx([0.0, 3.0, 9.0])
    grid_out = mmcv_ops.point_sample(feats, points.view(1, 3, 1, 2))
    assert grid_out.shape == (1, 1, 3, 1)


def test_sigmoid_focal_loss_matches_the_definition():
    torch.manual_seed(0)
    logits = torch.randn(6, 3)
    target = torch.tensor([0, 1, 2, 3, 1, 0])  # 3 == background for every class
    gamma, alpha = 2.0, 0.25
    loss = mmcv_ops.sigmoid_focal_loss(logits, target, gamma, alpha, None, 'none')
    one_hot = torch.zeros(6, 3)
    for i, t in enumerate(target.tolist()):
        if t < 3:
            one_hot[i, t] = 1
    p = logits.sigmoid()
    expected = -(alpha * (1 - p)**gamma * torch.log(p) * one_hot +
                 (1 - alpha) * p**gamma * torch.log(1 - p) * (1 - one_hot))
    assert torch.allclose(loss, expected, atol=1e-6)
    mean = mmcv_ops.sigmoid_focal_loss(logits, target, gamma, alpha, None, 'mean')
    assert mean.item() == pytest.approx(expected.sum().item() / 6, rel=1e-5)


def test_mmseg_focal_loss_wrapper_calls_the_fallback():
    # mmseg only calls mmcv's op for CUDA tensors; call its wrapper directly.
    from mmseg.models.losses.focal_loss import sigmoid_focal_loss
    logits, target = torch.randn(5, 3), torch.tensor([0, 1, 2, 3, 1])
    one_hot = torch.nn.functional.one_hot(target, 4)[:, :3].float()
    loss = sigmoid_focal_loss(logits, target, one_hot, reduction='mean')
    expected = mmcv_ops.sigmoid_focal_loss(logits, target, 2.0, 0.5, None, 'none').mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_missing_op_error_names_the_op_and_the_fix():
    module = mmcv_ops.build_fallback_module()
    with pytest.raises(ModuleNotFoundError, match=r'mmcv\.ops\.nms.*mim install'):
        module.nms
    # mmseg's optional imports only tolerate ModuleNotFoundError.
    assert issubclass(mmcv_ops.MissingMmcvOpError, ModuleNotFoundError)


def test_nothing_is_replaced_when_compiled_ops_exist(monkeypatch):
    sentinel = object()
    monkeypatch.setitem(sys.modules, 'mmcv.ops', sentinel)
    monkeypatch.setattr(mmcv_ops, 'has_compiled_mmcv_ops', lambda: True)
    assert mmcv_ops.install_mmcv_ops_fallback() is False
    assert sys.modules['mmcv.ops'] is sentinel


def test_fallback_focal_loss_gradients_are_finite_for_extreme_logits():
    logits = torch.tensor([[50.0, -50.0]], requires_grad=True)
    loss = mmcv_ops.sigmoid_focal_loss(logits, torch.tensor([1]), 2.0, 0.25, None, 'sum')
    loss.backward()
    assert torch.isfinite(logits.grad).all()

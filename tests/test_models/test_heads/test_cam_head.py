import pytest
import torch
import torch.nn.functional as F
from mmseg.structures import SegDataSample

import epsam  # noqa: F401
from epsam.models.heads import CAMHead


def _head(**kwargs):
    head = CAMHead(in_channels=4, num_classes=2, **kwargs)
    with torch.no_grad():
        head.fc.weight.copy_(torch.tensor([[1., 0., 0., -1.], [0., 2., 0., 0.]]))
        head.fc.bias.copy_(torch.tensor([0.5, -0.5]))
    return head


def test_forward_is_gap_plus_linear_and_cam_matches():
    head = _head()
    feats = torch.rand(3, 4, 5, 6)
    logits = head(feats)
    assert logits.shape == (3, 2)
    assert torch.allclose(logits, feats.mean((2, 3)) @ head.fc.weight.T + head.fc.bias)
    cam = head.cam(feats)
    assert cam.shape == (3, 2, 5, 6)
    assert torch.allclose(cam[:, 0], feats[:, 0] - feats[:, 3])
    assert torch.allclose(cam[:, 1], 2 * feats[:, 1])
    # The spatial mean of the CAM plus the bias is the logit.
    assert torch.allclose(cam.mean((2, 3)) + head.fc.bias, logits, atol=1e-6)


def test_loss_is_bce_with_logits():
    head = _head(loss_weight=2.0, pos_weight=[3.0, 1.0])
    feats = torch.rand(4, 4, 2, 2)
    labels = torch.tensor([[1., 0.], [0., 1.], [1., 1.], [0., 0.]])
    loss = head.loss(feats, labels)
    expected = 2.0 * F.binary_cross_entropy_with_logits(
        head(feats), labels, pos_weight=torch.tensor([3.0, 1.0]))
    assert set(loss) == {'loss_cls'}
    assert torch.allclose(loss['loss_cls'], expected)


def test_channel_mismatch_names_the_cam_layer():
    head = _head()
    with pytest.raises(ValueError, match='CAM layer features.*in_channels=4'):
        head.cam(torch.rand(1, 8, 2, 2))
    with pytest.raises(ValueError, match='final feature map'):
        head(torch.rand(1, 3, 2, 2))
    with pytest.raises(ValueError, match='labels of shape'):
        head.loss(torch.rand(2, 4, 2, 2), torch.zeros(2, 3))


def test_stack_labels_checks_samples():
    sample = SegDataSample()
    sample.set_data(dict(gt_label=torch.tensor([1., 0.])))
    assert torch.equal(CAMHead.stack_labels([sample, sample], 2), torch.tensor([[1., 0.]] * 2))
    with pytest.raises(ValueError, match='num_classes=3'):
        CAMHead.stack_labels([sample], 3)
    with pytest.raises(KeyError, match='gt_label'):
        CAMHead.stack_labels([SegDataSample()], 2)
    with pytest.raises(ValueError, match='pos_weight'):
        CAMHead(4, 2, pos_weight=[1.0])

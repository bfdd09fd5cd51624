import pytest
import torch
from mmseg.structures import SegDataSample

import epsam  # noqa: F401
from epsam.registry import METRICS


def _sample(score, label):
    sample = SegDataSample()
    sample.set_data(dict(pred_score=torch.tensor(score), gt_label=torch.tensor(label)))
    return sample


def test_binary_counts():
    metric = METRICS.build(dict(type='PatchClassificationMetric'))
    scores = [0.9, 0.6, 0.4, 0.2, 0.7, 0.1]
    labels = [1., 1., 1., 0., 0., 0.]  # TP 2, FN 1, FP 1, TN 2
    metric.process({}, [_sample([s], [l]) for s, l in zip(scores, labels)])
    result = metric.evaluate(len(scores))
    assert result['cls/accuracy'] == pytest.approx(100 * 4 / 6)
    assert result['cls/precision'] == pytest.approx(100 * 2 / 3)
    assert result['cls/recall'] == pytest.approx(100 * 2 / 3)
    assert result['cls/f1'] == pytest.approx(100 * 2 / 3)
    assert result['cls/exact_match'] == result['cls/accuracy']


def test_multilabel_macro_and_per_class():
    metric = METRICS.build(dict(type='PatchClassificationMetric', class_names=('a', 'b')))
    samples = [_sample([0.9, 0.1], [1., 0.]), _sample([0.8, 0.8], [1., 0.]),
               _sample([0.2, 0.3], [0., 1.])]
    metric.process({}, [s.to_dict() for s in samples])
    result = metric.evaluate(3)
    # class a: TP 2 -> P = R = F1 = 1; class b: TP 0, FP 1, FN 1 -> 0.
    assert result['cls/f1_a'] == pytest.approx(100.0)
    assert result['cls/f1_b'] == pytest.approx(0.0)
    assert result['cls/f1'] == pytest.approx(50.0)
    assert result['cls/accuracy'] == pytest.approx(100 * 4 / 6)
    assert result['cls/exact_match'] == pytest.approx(100 / 3)


def test_bad_samples():
    metric = METRICS.build(dict(type='PatchClassificationMetric'))
    with pytest.raises(KeyError, match='pred_score'):
        metric.process({}, [dict(gt_label=torch.tensor([1.]))])
    with pytest.raises(ValueError, match='differ in shape'):
        metric.process({}, [_sample([0.5, 0.5], [1.])])


def test_macro_mean_skips_classes_absent_from_validation():
    """Class c has no positive label: its F1 of 0 is left out of the macro mean."""
    metric = METRICS.build(dict(type='PatchClassificationMetric', class_names=('a', 'b', 'c')))
    samples = [_sample([0.9, 0.1, 0.1], [1., 0., 0.]), _sample([0.1, 0.9, 0.1], [0., 1., 0.]),
               _sample([0.1, 0.1, 0.1], [0., 0., 0.])]
    metric.process({}, samples)
    result = metric.evaluate(3)
    assert result['cls/f1_c'] == pytest.approx(0.0)
    assert result['cls/f1'] == pytest.approx(100.0)  # (100 + 100) / 2, not 200 / 3
    assert result['cls/recall'] == pytest.approx(100.0)
    assert result['cls/precision'] == pytest.approx(100.0)


def test_no_positive_label_at_all_averages_every_class():
    metric = METRICS.build(dict(type='PatchClassificationMetric'))
    metric.process({}, [_sample([0.9, 0.1], [0., 0.])])
    assert metric.evaluate(1)['cls/f1'] == pytest.approx(0.0)

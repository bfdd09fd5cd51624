"""WSSSIoUMetric through mmengine's Evaluator, by hand and against mmseg's IoUMetric."""
import math

import numpy as np
import pytest
import torch
from mmseg.evaluation import IoUMetric

from epsam.evaluation.metrics import wsss_iou
from epsam.evaluation.metrics.wsss_iou import WSSSIoUMetric
from epsam.registry import METRICS

# Classes A, B and background BG (index 2); 255 ignored. The hand-counted
# confusion matrix (rows gt, cols pred) is [[3, 1, 0], [0, 3, 1], [1, 1, 3]].
META = dict(classes=('A', 'B', 'BG'), background_index=2)
GT = [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 2, 255], [2, 2, 255, 255]]
PRED = [[0, 1, 1, 1], [0, 0, 1, 2], [2, 2, 0, 0], [2, 1, 1, 2]]


def _split_batches(make):
    """The same pixels as two 2x4 images in two batches (tests accumulation)."""
    return [[make(PRED[:2], GT[:2], img_path='top.png')],
            [make(PRED[2:], GT[2:], img_path='bottom.png')]]


def test_exclude_background_hand_values(sample_factory, evaluate):
    out = evaluate([WSSSIoUMetric(protocol='exclude_background')],
                   _split_batches(sample_factory), META)
    # Background rows dropped: [[3, 1, 0], [0, 3, 1]] -> IoU A = 3/4, B = 3/5.
    assert set(out) == {'exclude_background/' + k
                        for k in ('aAcc', 'mIoU', 'FwIoU', 'mDice', 'IoU.A', 'IoU.B')}
    assert out['exclude_background/IoU.A'] == pytest.approx(75.0)
    assert out['exclude_background/IoU.B'] == pytest.approx(60.0)
    assert out['exclude_background/mIoU'] == pytest.approx(67.5)
    assert out['exclude_background/FwIoU'] == pytest.approx(67.5)
    assert out['exclude_background/aAcc'] == pytest.approx(100 * 6 / 8)
    assert out['exclude_background/mDice'] == pytest.approx(100 * (6 / 7 + 6 / 8) / 2)


def test_full_matrix_hand_values(sample_factory, evaluate):
    out = evaluate([WSSSIoUMetric(protocol='full_matrix')], _split_batches(sample_factory), META)
    assert out['full_matrix/IoU.A'] == pytest.approx(60.0)
    assert out['full_matrix/IoU.B'] == pytest.approx(50.0)
    assert out['full_matrix/IoU.BG'] == pytest.approx(50.0)
    assert out['full_matrix/mIoU'] == pytest.approx(55.0)  # tissue classes only
    assert out['full_matrix/FwIoU'] == pytest.approx(55.0)
    assert out['full_matrix/aAcc'] == pytest.approx(100 * 9 / 13)
    assert out['full_matrix/mDice'] == pytest.approx(100 * (6 / 8 + 6 / 9) / 2)


def test_confusion_matrix_is_accumulated_not_stored_per_image(sample_factory):
    metric = WSSSIoUMetric(protocol='full_matrix')
    metric.dataset_meta = META
    for batch in _split_batches(sample_factory) * 3:
        metric.process(None, [sample.to_dict() for sample in batch])
    assert len(metric.results) == 1
    assert metric.results[0].tolist() == [[9, 3, 0], [0, 9, 3], [3, 3, 9]]


def test_log_tables_name_the_protocol(sample_factory, evaluate, monkeypatch):
    messages = []
    monkeypatch.setattr(wsss_iou, 'print_log', lambda msg, **kwargs: messages.append(msg))
    evaluate([WSSSIoUMetric(protocol='exclude_background', prefix='')],
             _split_batches(sample_factory), META)
    text = '\n'.join(messages)
    assert 'protocol=exclude_background' in text
    assert '| exclude_background |' in text and '67.50' in text
    assert '| BG ' not in text  # background is not reported under this protocol


def test_absent_class_is_nan_and_left_out_of_the_mean(sample_factory, evaluate):
    meta = dict(classes=('A', 'B', 'C', 'BG'), background_index=3)
    gt = [[0, 0, 1, 3]]
    pred = [[0, 1, 1, 3]]
    out = evaluate([WSSSIoUMetric(protocol='full_matrix', prefix='')],
                   [[sample_factory(pred, gt)]], meta)
    assert math.isnan(out['IoU.C'])
    assert out['mIoU'] == pytest.approx(100 * (1 / 2 + 1 / 2) / 2)


def test_background_from_argument_and_dataset_without_background(sample_factory, evaluate):
    meta = dict(classes=('A', 'B', 'BG'), background_index=None)
    samples = _split_batches(sample_factory)
    # No background: both protocols count every class.
    for protocol in ('exclude_background', 'full_matrix'):
        out = evaluate([WSSSIoUMetric(protocol=protocol, prefix='')], samples, meta)
        assert out['mIoU'] == pytest.approx(100 * (0.6 + 0.5 + 0.5) / 3)
    # The argument wins over the metainfo.
    out = evaluate([WSSSIoUMetric(protocol='exclude_background', background_index=2,
                                  prefix='')], samples, meta)
    assert out['mIoU'] == pytest.approx(67.5)


def test_bad_configuration_and_input_raise_clear_errors(sample_factory, evaluate):
    with pytest.raises(ValueError, match='protocol must be one of'):
        WSSSIoUMetric(protocol='5class')
    with pytest.raises(ValueError, match="needs dataset_meta\\['classes'\\]"):
        evaluate([WSSSIoUMetric(protocol='full_matrix')], [[sample_factory(PRED, GT)]], {})
    with pytest.raises(ValueError, match="metainfo has 'background_index'"):
        evaluate([WSSSIoUMetric(protocol='full_matrix')], [[sample_factory(PRED, GT)]],
                 dict(classes=('A', 'B', 'BG')))
    with pytest.raises(ValueError, match='background_index 7 outside'):
        evaluate([WSSSIoUMetric(protocol='full_matrix', background_index=7)],
                 [[sample_factory(PRED, GT)]], META)
    with pytest.raises(ValueError, match='x.png: prediction holds class index 3'):
        evaluate([WSSSIoUMetric(protocol='full_matrix')],
                 [[sample_factory([[3, 0]], [[0, 0]], img_path='x.png')]], META)
    with pytest.raises(KeyError, match='y.png has no `gt_sem_seg`'):
        evaluate([WSSSIoUMetric(protocol='full_matrix')],
                 [[sample_factory(PRED, None, img_path='y.png')]], META)


def _random_batches(make, num_images=6, size=9, num_classes=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    batches = []
    for i in range(0, num_images, 2):
        batch = []
        for j in range(i, i + 2):
            gt = torch.randint(0, num_classes, (size, size), generator=gen)
            gt[torch.rand(size, size, generator=gen) < 0.1] = 255
            pred = torch.where(torch.rand(size, size, generator=gen) < 0.6, gt,
                               torch.randint(0, num_classes, (size, size), generator=gen))
            pred[pred == 255] = 0
            batch.append(make(pred, gt, img_path=f'{j}.png'))
        batches.append(batch)
    return batches


def _mmseg_reference(batches, num_classes, ignore_index=255):
    """mmseg's own unrounded per-class IoU, Dice and aAcc (fractions, computed in float32)."""
    parts = [IoUMetric.intersect_and_union(s.pred_sem_seg.data.squeeze(),
                                           s.gt_sem_seg.data.squeeze(), num_classes, ignore_index)
             for batch in batches for s in batch]
    totals = [sum(part[k] for part in parts) for k in range(4)]
    return IoUMetric.total_area_to_metrics(*totals, metrics=['mIoU', 'mDice'])


@pytest.mark.parametrize('background_index', [None, 4])
def test_full_matrix_agrees_with_mmseg_iou_metric(sample_factory, evaluate, background_index):
    classes = ('TUM', 'STR', 'LYM', 'NEC', 'BACK')
    meta = dict(classes=classes, background_index=background_index)
    batches = _random_batches(sample_factory)
    out = evaluate([WSSSIoUMetric(protocol='full_matrix', prefix=''),
                    IoUMetric(iou_metrics=['mIoU'], prefix='mmseg')], batches, meta)
    reference = _mmseg_reference(batches, len(classes))
    for c, name in enumerate(classes):
        assert out[f'IoU.{name}'] / 100 == pytest.approx(reference['IoU'][c], abs=1e-6)
    assert out['aAcc'] / 100 == pytest.approx(reference['aAcc'], abs=1e-6)
    # mmseg's evaluator output is rounded to 2 decimals.
    assert round(out['aAcc'], 2) == pytest.approx(out['mmseg/aAcc'], abs=1e-9)
    tissue = [c for c in range(len(classes)) if c != background_index]
    assert out['mIoU'] / 100 == pytest.approx(np.nanmean(reference['IoU'][tissue]), abs=1e-6)
    assert out['mDice'] / 100 == pytest.approx(np.nanmean(reference['Dice'][tissue]), abs=1e-6)
    if background_index is None:
        assert round(out['mIoU'], 2) == pytest.approx(out['mmseg/mIoU'], abs=1e-9)


def test_exclude_background_equals_mmseg_with_background_ignored(sample_factory, evaluate):
    classes = ('TUM', 'STR', 'LYM', 'NEC', 'BACK')
    batches = _random_batches(sample_factory, seed=1)
    out = evaluate([METRICS.build(dict(type='WSSSIoUMetric', protocol='exclude_background',
                                       prefix=''))],
                   batches, dict(classes=classes, background_index=4))
    for batch in batches:  # mmseg's view: background ground truth becomes "ignore"
        for sample in batch:
            sample.gt_sem_seg.data[sample.gt_sem_seg.data == 4] = 255
    reference = _mmseg_reference(batches, len(classes))
    assert 'IoU.BACK' not in out
    for c, name in enumerate(classes[:4]):
        assert out[f'IoU.{name}'] / 100 == pytest.approx(reference['IoU'][c], abs=1e-6)
    assert out['aAcc'] / 100 == pytest.approx(reference['aAcc'], abs=1e-6)
    assert out['mIoU'] / 100 == pytest.approx(np.nanmean(reference['IoU'][:4]), abs=1e-6)

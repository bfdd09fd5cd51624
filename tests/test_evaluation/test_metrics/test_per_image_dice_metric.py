"""PerImageDiceMetric run through mmengine's Evaluator on fake SegDataSamples."""
import csv
import math

import pytest
from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope

from epsam.evaluation.metrics.per_image_dice import CSV_COLUMNS, PerImageDiceMetric, summarise
from epsam.registry import METRICS

S = 1e-3
CAMELYON_META = dict(classes=('normal', 'tumor'), background_index=0)

# 4x4 binary example counted by hand: |G| = 4, |P| = 4, |P∩G| = 2.
GT_A = [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
PRED_A = [[0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
DICE_A, IOU_A = (4 + S) / (8 + S), (2 + S) / (6 + S)
# Perfect on a fully positive image.
GT_B = PRED_B = [[1] * 4] * 4
# Negative image (no foreground) with 3 false-positive pixels.
GT_NEG = [[0] * 4] * 4
PRED_NEG = [[1, 1, 1, 0]] + [[0] * 4] * 3
DICE_NEG, IOU_NEG = S / (3 + S), S / (3 + S)


def _samples(make):
    return [make(PRED_A, GT_A, img_path='a.png'), make(PRED_B, GT_B, img_path='b.png'),
            make(PRED_NEG, GT_NEG, img_path='neg.png')]


def test_positive_only_average_matches_hand_values(sample_factory, evaluate):
    metric = METRICS.build(dict(type='PerImageDiceMetric'))
    samples = _samples(sample_factory)
    out = evaluate([metric], [samples[:2], samples[2:]], CAMELYON_META)
    assert set(out) == {'Dice', 'IoU', 'num_images'}
    assert out['num_images'] == 2
    assert out['Dice'] == pytest.approx(100 * (DICE_A + 1) / 2, abs=1e-9)
    assert out['IoU'] == pytest.approx(100 * (IOU_A + 1) / 2, abs=1e-9)
    by_path = {row['img_path']: row for row in metric.per_image}
    assert by_path['neg.png']['averaged'] is False
    assert by_path['a.png']['Dice'] == pytest.approx(100 * DICE_A)
    assert (by_path['a.png']['intersection'], by_path['a.png']['pred_pixels'],
            by_path['a.png']['gt_pixels']) == (2, 4, 4)


def test_all_images_average_includes_negatives(sample_factory, evaluate):
    metric = PerImageDiceMetric(positive_only=False)
    out = evaluate([metric], [_samples(sample_factory)], CAMELYON_META)
    assert out['num_images'] == 3
    assert out['Dice'] == pytest.approx(100 * (DICE_A + 1 + DICE_NEG) / 3, abs=1e-9)
    assert out['IoU'] == pytest.approx(100 * (IOU_A + 1 + IOU_NEG) / 3, abs=1e-9)
    assert summarise(metric.per_image) == pytest.approx((out['Dice'], out['IoU'], 3))


def test_ignore_index_pixels_do_not_count(sample_factory, evaluate):
    gt = [[1, 1, 255, 255], [1, 1, 255, 255], [0, 0, 0, 0], [0, 0, 0, 0]]
    # The predicted pixels under 255 are not counted: |P| = 2, |G| = 4, I = 2.
    out = evaluate([PerImageDiceMetric()], [[sample_factory(PRED_A, gt)]], CAMELYON_META)
    assert out['Dice'] == pytest.approx(100 * (4 + S) / (6 + S))
    # An image whose pixels are all ignored is never averaged.
    metric = PerImageDiceMetric(positive_only=False)
    out = evaluate([metric], [[sample_factory(PRED_A, [[255] * 4] * 4)]], CAMELYON_META)
    assert out['num_images'] == 0 and math.isnan(out['Dice'])
    assert metric.per_image[0]['valid_pixels'] == 0


@pytest.mark.parametrize('config, expected_dice', [
    # Foreground = class 2 only: G = {(0,0),(0,1)}, P = {(0,1),(1,1)}, I = 1.
    (dict(foreground_index=2), (2 + S) / (4 + S)),
    # Foreground = every class but background 0: G has 4 pixels, P has 3, I = 2.
    (dict(), (4 + S) / (7 + S)),
    # The argument overrides the metainfo: background 1 -> |G| = 14, |P| = 15, I = 13.
    (dict(background_index=1), (2 * 13 + S) / (14 + 15 + S)),
])
def test_foreground_choices(sample_factory, evaluate, config, expected_dice):
    gt = [[2, 2, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    pred = [[0, 2, 0, 0], [0, 2, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    meta = dict(classes=('bg', 'a', 'b'), background_index=0)
    out = evaluate([PerImageDiceMetric(**config)], [[sample_factory(pred, gt)]], meta)
    assert out['Dice'] == pytest.approx(100 * expected_dice)


def test_per_image_csv(sample_factory, evaluate, tmp_path):
    path = tmp_path / 'out' / 'per_image.csv'
    evaluate([PerImageDiceMetric(per_image_csv=str(path))], [_samples(sample_factory)],
             CAMELYON_META)
    with open(path, newline='') as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    assert [row['img_path'] for row in rows] == ['a.png', 'b.png', 'neg.png']
    assert float(rows[0]['Dice']) == pytest.approx(100 * DICE_A, abs=1e-6)
    assert float(rows[0]['IoU']) == pytest.approx(100 * IOU_A, abs=1e-6)
    assert [row['averaged'] for row in rows] == ['1', '1', '0']


def test_missing_ground_truth_policies(sample_factory, evaluate):
    negative = sample_factory(PRED_NEG, None, img_path='neg.png', gt_label=[0.])
    out = evaluate([PerImageDiceMetric(positive_only=False, missing_gt='empty')],
                   [[negative]], CAMELYON_META)
    assert out['num_images'] == 1 and out['Dice'] == pytest.approx(100 * DICE_NEG)
    skip = PerImageDiceMetric(positive_only=False, missing_gt='skip')
    out = evaluate([skip], [[negative, sample_factory(PRED_B, GT_B)]], CAMELYON_META)
    assert out['num_images'] == 1 and len(skip.per_image) == 1
    with pytest.raises(KeyError, match='neg.png has no gt_sem_seg'):
        evaluate([PerImageDiceMetric(missing_gt='error')], [[negative]], CAMELYON_META)
    positive = sample_factory(PRED_NEG, None, img_path='pos.png', gt_label=[1.])
    with pytest.raises(ValueError, match='pos.png has a positive gt_label'):
        evaluate([PerImageDiceMetric()], [[positive]], CAMELYON_META)


def test_bad_configuration_and_input_raise_clear_errors(sample_factory, evaluate):
    with pytest.raises(ValueError, match='smooth must be > 0'):
        PerImageDiceMetric(smooth=0)
    with pytest.raises(ValueError, match='missing_gt must be one of'):
        PerImageDiceMetric(missing_gt='zeros')
    with pytest.raises(ValueError, match='not the ignore index'):
        PerImageDiceMetric(foreground_index=255)
    with pytest.raises(ValueError, match="metainfo has 'background_index'"):
        evaluate([PerImageDiceMetric()], [[sample_factory(PRED_A, GT_A)]], dict(classes=('a',)))
    with pytest.raises(ValueError, match=r'b.png: pred_sem_seg shape \(4, 4\) differs'):
        evaluate([PerImageDiceMetric()], [[sample_factory(PRED_A, [[0, 1]], img_path='b.png')]],
                 CAMELYON_META)


def test_builds_from_a_config_under_the_epsam_scope(sample_factory):
    with DefaultScope.overwrite_default_scope('epsam'):
        evaluator = Evaluator(dict(type='PerImageDiceMetric', prefix='val'))
    evaluator.dataset_meta = CAMELYON_META
    evaluator.process(data_samples=[sample_factory(PRED_B, GT_B)], data_batch=None)
    assert evaluator.evaluate(1) == {'val/Dice': 100.0, 'val/IoU': 100.0, 'val/num_images': 1}
    assert isinstance(evaluator.metrics[0], PerImageDiceMetric)

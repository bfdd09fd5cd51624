"""The one report of both tasks: baseline rows, collapse flag, protocol columns."""
import numpy as np

from epsam.pipeline.method_predictions import describe_config
from epsam.pipeline.report import COLLAPSE_TAG, notes, results_table
from epsam.pipeline.scoring import ClassMapScoring, ForegroundDiceScoring, collapsed, score_masks


def _truths():
    truth = np.zeros((10, 10), bool)
    truth[:, :5] = True
    return {'a': truth, 'b': truth.copy()}


def test_score_masks_counts_whole_patch_masks():
    truths = _truths()
    whole = {stem: np.ones_like(t) for stem, t in truths.items()}
    scored = score_masks(whole, truths)
    assert scored['whole_patch_masks'] == 2 and scored['mean_foreground'] == 100.0
    assert round(scored['dice'], 2) == round(100 * 2 * 50 / (100 + 50), 2)
    exact = score_masks(dict(truths), truths)
    assert exact['whole_patch_masks'] == 0 and exact['dice'] > 99.9
    # a missing prediction is an empty mask
    assert score_masks({}, truths)['mean_foreground'] == 0.0


def test_collapse_needs_most_images():
    assert collapsed(dict(whole_patch_masks=2), images=3)
    assert not collapsed(dict(whole_patch_masks=1), images=2)
    assert not collapsed(dict(), images=2)


def _record(collapse: bool):
    truths = _truths()
    base = score_masks({s: np.ones_like(t) for s, t in truths.items()}, truths)
    sam = dict(base if collapse else score_masks(dict(truths), truths))
    protocol = ForegroundDiceScoring.protocol
    rows = [dict(method='whole patch (every pixel foreground)', protocol=protocol,
                 metrics=base, baseline=True, train_seconds=0.0, infer_seconds=0.0),
            dict(method='SAM tuned (iter 0)', protocol=protocol, metrics=sam,
                 train_seconds=1.0, infer_seconds=1.0, collapsed=collapsed(sam, 2))]
    return dict(split='test', images=2, image_kind='positive patches', title='EP-SAM',
                protocol='p', rows=rows, use_sam=True, sam='SAM weights: x',
                sam_label='LiteMedSAM', stand_in_sam=False, pixel_labels_for_selection=False)


def test_report_flags_a_collapsed_sam_by_name():
    record = _record(collapse=True)
    table = results_table(record, ForegroundDiceScoring()).get_string()
    assert 'SAM tuned (iter 0)' + COLLAPSE_TAG in table
    assert 'EP-SAM on test (2 positive patches); SAM: LiteMedSAM' in table and '2/2' in table
    assert 'protocol' not in table.splitlines()[3]  # one protocol: no protocol column
    assert any(line.startswith('COLLAPSE: SAM tuned (iter 0)') for line in notes(record))
    healthy = _record(collapse=False)
    assert COLLAPSE_TAG not in results_table(healthy, ForegroundDiceScoring()).get_string()
    assert not any(line.startswith('COLLAPSE') for line in notes(healthy))


def test_class_map_report_has_a_row_per_protocol_and_class_columns():
    scoring = ClassMapScoring(('TUM', 'BACK'), background_index=1)
    truth = np.array([[0, 0], [1, 1]], np.uint8)
    partials = [scoring.score({'a': truth}, {'a': truth}),
                scoring.score({}, {'b': truth})]  # a second rank; no map = background
    summary = scoring.summarise(partials, ['a', 'b'])
    assert set(summary) == {'exclude_background', 'full_matrix'}
    assert summary['exclude_background']['IoU.TUM'] == 50.0
    rows = [dict(method='CAM class maps', protocol=protocol, metrics=metrics,
                 train_seconds=2.0, infer_seconds=1.0) for protocol, metrics in summary.items()]
    record = dict(split='test', images=2, image_kind='patches', title='Multi-class WSSS',
                  protocol=scoring.note, rows=rows, use_sam=False, sam='No SAM.',
                  stand_in_sam=False, pixel_labels_for_selection=False, test_labels='mask')
    table = results_table(record, scoring).get_string()
    assert 'Multi-class WSSS on test (2 patches); no SAM' in table
    header = table.splitlines()[3]
    assert all(key in header for key in ('protocol', 'mIoU', 'FwIoU', 'IoU.TUM', 'IoU.BACK'))
    assert 'exclude_background' in table and 'full_matrix' in table
    assert any('oracle image labels' in line for line in notes(record))
    assert scoring.harness_metrics(rows[0]['metrics']) == rows[0]['metrics']
    assert ForegroundDiceScoring().harness_metrics(dict(dice=1.0, iou=0.5, x=3)) == \
        dict(Dice=1.0, IoU=0.5)


def test_describe_config_names_the_mask_maker():
    assert describe_config(dict(type='PercentileMaskMaker', percentile=10)) == \
        'PercentileMaskMaker(percentile=10)'


def test_picture_items_alternate_kept_and_rejected(tmp_path):
    from epsam.fileio.items import PseudoLabelItem
    from epsam.pipeline.pictures import picture_items
    items = [PseudoLabelItem(f'/x/{n}.png', f'/c/{n}.npz', f'/m/{n}.png') for n in 'abcdef']
    for stem in 'ef':
        (tmp_path / f'{stem}.png').write_bytes(b'')
    assert [i.stem for i in picture_items(items, str(tmp_path), 4)] == ['e', 'a', 'f', 'b']
    assert [i.stem for i in picture_items(items, None, 3)] == ['a', 'b', 'c']

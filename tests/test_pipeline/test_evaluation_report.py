"""The binary report's baseline rows and its collapse flag."""
import numpy as np

from epsam.pipeline.evaluation import collapsed, describe_config, score_masks
from epsam.pipeline.report import COLLAPSE_TAG, notes, results_table


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
    sam.update(method='SAM tuned (iter 0)', train_seconds=1.0, infer_seconds=1.0)
    sam['collapsed'] = collapsed(sam, 2)
    rows = [dict(method='whole patch (every pixel foreground)', baseline=True,
                 train_seconds=0.0, infer_seconds=0.0, **base), sam]
    return dict(split='test', images=2, protocol='p', rows=rows, sam='SAM weights: x',
                sam_label='LiteMedSAM', stand_in_sam=False, pixel_labels_for_selection=False)


def test_report_flags_a_collapsed_sam_by_name():
    record = _record(collapse=True)
    table = results_table(record).get_string()
    assert 'SAM tuned (iter 0)' + COLLAPSE_TAG in table
    assert 'SAM: LiteMedSAM' in table and '2/2' in table
    assert any(line.startswith('COLLAPSE: SAM tuned (iter 0)') for line in notes(record))
    healthy = _record(collapse=False)
    assert COLLAPSE_TAG not in results_table(healthy).get_string()
    assert not any(line.startswith('COLLAPSE') for line in notes(healthy))


def test_describe_config_names_the_mask_maker():
    assert describe_config(dict(type='PercentileMaskMaker', percentile=10)) == \
        'PercentileMaskMaker(percentile=10)'


def test_picture_items_alternate_kept_and_rejected(tmp_path):
    from epsam.fileio.items import PseudoLabelItem
    from epsam.pipeline.report import picture_items
    items = [PseudoLabelItem(f'/x/{n}.png', f'/c/{n}.npz', f'/m/{n}.png') for n in 'abcdef']
    for stem in 'ef':
        (tmp_path / f'{stem}.png').write_bytes(b'')
    assert [i.stem for i in picture_items(items, str(tmp_path), 4)] == ['e', 'a', 'f', 'b']
    assert [i.stem for i in picture_items(items, None, 3)] == ['a', 'b', 'c']

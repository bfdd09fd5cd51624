import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

import epsam  # noqa: F401
from epsam.fileio.cam_store import save_cam, save_label_png
from epsam.fileio.errors import PatchFileError
from epsam.fileio.items import PseudoLabelItem, items_from_cam_dir
from epsam.models.sam import build_sam
from epsam.pseudo_labels import IDSSelector, KeepAllSelector, PseudoLabelGenerator, ids_score

SIZE = 64
STEMS = ('p0_1', 'p1_1', 'p2_1', 'p3_1', 'p4_1', 'p5_1')
EMPTY = 'p3_1'  # its CAM has no positive pixel


@pytest.fixture(scope='module')
def sam():
    torch.manual_seed(0)
    return build_sam('tiny')


@pytest.fixture
def cam_tree(tmp_path):
    """Six 64 px patches: CAM blobs at different places (one empty) and their masks."""
    root = str(tmp_path / 'data')
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    for i, stem in enumerate(STEMS):
        img = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
        cy, cx, radius = 16 + 6 * i, 40 - 4 * i, 10 + 2 * i
        blob = np.clip(1 - np.hypot(yy - cy, xx - cx) / radius, 0, 1)
        if stem == EMPTY:
            blob[:] = 0
        img[blob > 0] = (40, 20, 160)
        os.makedirs(osp.join(root, 'img'), exist_ok=True)
        cv2.imwrite(osp.join(root, 'img', f'{stem}.png'), img)
        save_cam(osp.join(root, 'cams', 'cams', f'{stem}.npz'), blob[None], [0.9], ['tumor'],
                 osp.join(root, 'img', f'{stem}.png'))
        mask = (blob > 0.2).astype(np.uint8)
        mask[:2] = 255
        save_label_png(osp.join(root, 'cams', 'masks', f'{stem}.png'), mask)
    return root


def _items(root):
    return items_from_cam_dir(osp.join(root, 'img'), osp.join(root, 'cams'))


def _generator(sam, selector, **kwargs):
    kwargs.setdefault('batch_size', 2)
    return PseudoLabelGenerator(
        sam, dict(type='ProbabilisticPointPrompt', num_points=10), selector,
        progress=False, **kwargs)


def _tree_bytes(folder):
    out = {}
    for base, _, names in os.walk(folder):
        for name in names:
            path = osp.join(base, name)
            with open(path, 'rb') as stream:
                out[osp.relpath(path, folder)] = stream.read()
    return out


def _mixed_selector(sam, root):
    """An IDS threshold between the items' scores, so some are kept and some rejected."""
    masks = _generator(sam, KeepAllSelector()).predict_masks(_items(root))
    scores = {}
    for stem, mask in masks.items():
        if mask is not None:
            cam_mask = cv2.imread(osp.join(root, 'cams', 'masks', f'{stem}.png'), 0) == 1
            scores[stem] = ids_score(mask, cam_mask)
    ordered = sorted(scores.values())
    assert len(set(ordered)) > 2, 'the test needs distinct scores'
    threshold = (ordered[len(ordered) // 2 - 1] + ordered[len(ordered) // 2]) / 2
    return IDSSelector(threshold), scores, masks


def test_items_from_cam_dir_lists_masked_images(cam_tree):
    items = _items(cam_tree)
    assert [item.stem for item in items] == list(STEMS)
    assert items[0] == PseudoLabelItem(osp.join(cam_tree, 'img', 'p0_1.png'),
                                       osp.join(cam_tree, 'cams', 'cams', 'p0_1.npz'),
                                       osp.join(cam_tree, 'cams', 'masks', 'p0_1.png'))
    os.remove(osp.join(cam_tree, 'cams', 'cams', 'p1_1.npz'))
    with pytest.raises(FileNotFoundError, match='p1_1.npz'):
        _items(cam_tree)


def test_run_writes_kept_masks_records_and_summary(sam, cam_tree, tmp_path):
    selector, scores, masks = _mixed_selector(sam, cam_tree)
    out = str(tmp_path / 'iter1')
    report = _generator(sam, selector).run(_items(cam_tree), out)
    kept = {stem for stem, score in scores.items() if score >= selector.threshold}
    assert 0 < len(kept) < len(scores)
    assert report.kept == len(kept) and report.rejected == len(scores) - len(kept)
    assert report.empty_prompts == 1 and report.errors == [] and report.skipped == 0
    assert report.kept + report.rejected + report.empty_prompts == report.items == len(STEMS)
    assert report.images_encoded == len(STEMS) - 1  # the empty CAM is never encoded
    assert set(report.seconds) == {'read', 'prompts', 'encode', 'decode', 'write'}

    assert sorted(os.listdir(osp.join(out, 'masks'))) == sorted(f'{s}.png' for s in kept)
    for stem in kept:
        written = cv2.imread(osp.join(out, 'masks', f'{stem}.png'), cv2.IMREAD_UNCHANGED)
        assert written.shape == (SIZE, SIZE) and written.dtype == np.uint8
        np.testing.assert_array_equal(written, masks[stem].astype(np.uint8))
    for stem in STEMS:
        record = json.load(open(osp.join(out, 'records', f'{stem}.json')))
        if stem == EMPTY:
            assert record['status'] == 'empty_prompts' and record['num_points'] == 0
        else:
            assert record['status'] == ('kept' if stem in kept else 'rejected')
            assert record['keep'] == (stem in kept) and record['num_points'] == 10
            assert record['score'] == pytest.approx(scores[stem], abs=1e-6)
            assert 'IDS' in record['reason']

    summary = json.load(open(osp.join(out, 'summary.json')))
    assert report.summary == summary
    assert (summary['items'], summary['kept'], summary['rejected'], summary['empty_prompts'],
            summary['errors']) == (6, len(kept), len(scores) - len(kept), 1, 0)
    assert summary['settings']['selector'] == repr(selector)
    lines = open(osp.join(out, 'records.jsonl')).read().splitlines()
    assert [json.loads(line)['stem'] for line in lines] == list(STEMS)
    assert not [name for name in _tree_bytes(out) if '.tmp' in name]


def test_rerun_skips_everything_and_outputs_are_reproducible(sam, cam_tree, tmp_path):
    out = str(tmp_path / 'iter1')
    first = _generator(sam, KeepAllSelector()).run(_items(cam_tree), out)
    snapshot = _tree_bytes(out)
    again = _generator(sam, KeepAllSelector())
    second = again.run(_items(cam_tree), out)
    assert second.skipped == len(STEMS) and second.processed == 0
    assert second.images_encoded == 0 and again.images_encoded == 0
    assert second.summary == first.summary and _tree_bytes(out) == snapshot

    fresh = str(tmp_path / 'fresh')  # the same run from scratch writes the same bytes
    _generator(sam, KeepAllSelector()).run(_items(cam_tree), fresh)
    assert _tree_bytes(fresh) == snapshot


def test_interrupted_run_resumes(sam, cam_tree, tmp_path):
    out = str(tmp_path / 'iter1')
    _generator(sam, KeepAllSelector()).run(_items(cam_tree), out)
    snapshot = _tree_bytes(out)
    for name in ('records/p4_1.json', 'records/p5_1.json', 'summary.json', 'records.jsonl'):
        os.remove(osp.join(out, name))  # as if killed before these were written
    report = _generator(sam, KeepAllSelector()).run(_items(cam_tree), out)
    assert report.processed == 2 and report.skipped == 4 and report.images_encoded == 2
    assert _tree_bytes(out) == snapshot


def test_sharded_run_equals_single_run(sam, cam_tree, tmp_path):
    selector, _, _ = _mixed_selector(sam, cam_tree)
    single, sharded = str(tmp_path / 'single'), str(tmp_path / 'sharded')
    _generator(sam, selector).run(_items(cam_tree), single)
    rank0 = _generator(sam, selector).run(_items(cam_tree), sharded, rank=0, world_size=2)
    assert rank0.summary is None and not osp.exists(osp.join(sharded, 'summary.json'))
    rank1 = _generator(sam, selector).run(_items(cam_tree), sharded, rank=1, world_size=2)
    assert rank0.items + rank1.items == len(STEMS)
    assert rank1.summary is not None
    assert _tree_bytes(sharded) == _tree_bytes(single)


def test_keep_all_keeps_every_item_with_prompts(sam, cam_tree, tmp_path):
    out = str(tmp_path / 'all')
    report = _generator(sam, dict(type='KeepAllSelector'), batch_size=4).run(
        _items(cam_tree), out)
    assert report.kept == len(STEMS) - 1 and report.rejected == 0 and report.empty_prompts == 1
    assert report.encoder_calls == 2  # batches [p0..p3] (p3 empty) and [p4, p5]
    expected = [f'{stem}.png' for stem in STEMS if stem != EMPTY]
    assert sorted(os.listdir(osp.join(out, 'masks'))) == expected


def test_unreadable_item_is_counted_and_retried(sam, cam_tree, tmp_path):
    bad = osp.join(cam_tree, 'cams', 'cams', 'p1_1.npz')
    good = open(bad, 'rb').read()
    open(bad, 'wb').write(b'not a zip file')
    out = str(tmp_path / 'iter1')
    report = _generator(sam, KeepAllSelector()).run(_items(cam_tree), out)
    assert [stem for stem, _ in report.errors] == ['p1_1'] and 'p1_1.npz' in report.errors[0][1]
    assert report.kept == 4 and report.summary['errors'] == 1
    assert 'p1_1' in report.summary['error_items']

    open(bad, 'wb').write(good)
    retry = _generator(sam, KeepAllSelector()).run(_items(cam_tree), out)
    assert retry.processed == 1 and retry.kept == 1 and retry.summary['errors'] == 0
    open(bad, 'wb').write(b'broken again')
    with pytest.raises(PatchFileError, match='p1_1.npz'):
        _generator(sam, KeepAllSelector()).predict_masks(_items(cam_tree))


def test_other_settings_are_refused_in_the_same_folder(sam, cam_tree, tmp_path):
    out = str(tmp_path / 'iter1')
    _generator(sam, KeepAllSelector()).run(_items(cam_tree)[:2], out)
    with pytest.raises(ValueError, match=r"other settings \(differing: \['seed'\]\)"):
        _generator(sam, KeepAllSelector(), seed=1).run(_items(cam_tree)[:2], out)


def test_bad_arguments(sam, cam_tree, tmp_path):
    items = _items(cam_tree)
    generator = _generator(sam, KeepAllSelector())
    with pytest.raises(ValueError, match='rank'):
        generator.run(items, str(tmp_path), rank=2, world_size=2)
    twin = PseudoLabelItem(osp.join(cam_tree, 'other', 'p0_1.png'), *items[0][1:])
    with pytest.raises(ValueError, match="stem.*'p0_1'"):
        generator.run(items + [twin], str(tmp_path))
    with pytest.raises(ValueError, match='img_path, cam_path, initial_mask_path'):
        generator.run([('only', 'two')], str(tmp_path))
    with pytest.raises(ValueError, match='batch_size'):
        _generator(sam, KeepAllSelector(), batch_size=0)


def test_predict_masks_writes_sam_masks_without_selection(sam, cam_tree, tmp_path):
    generator = _generator(sam, IDSSelector(1.0))  # would reject everything
    out = str(tmp_path / 'pred')
    masks = generator.predict_masks(_items(cam_tree), out_dir=out)
    assert masks[EMPTY] is None
    assert sorted(os.listdir(out)) == [f'{s}.png' for s in STEMS if s != EMPTY]
    for stem in STEMS:
        if stem != EMPTY:
            assert masks[stem].shape == (SIZE, SIZE) and masks[stem].dtype == bool
            np.testing.assert_array_equal(cv2.imread(osp.join(out, f'{stem}.png'), 0),
                                          masks[stem].astype(np.uint8))


def test_embedding_cache_is_used_when_given(sam, cam_tree, tmp_path):
    from epsam.models.sam.cache.embedding_cache import SamEmbeddingCache
    cache = SamEmbeddingCache(str(tmp_path / 'cache'), sam.image_encoder,
                              storage_dtype='float32')
    first = _generator(sam, KeepAllSelector(), cache=cache).run(
        _items(cam_tree), str(tmp_path / 'a'))
    second = _generator(sam, KeepAllSelector(), cache=cache).run(
        _items(cam_tree), str(tmp_path / 'b'))
    assert first.images_encoded == len(STEMS) - 1 and second.images_encoded == 0
    assert second.kept == first.kept == len(STEMS) - 1
    assert cache.stats()['hits'] == len(STEMS) - 1

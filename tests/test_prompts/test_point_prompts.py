"""Positive (CAM-weighted, uniform) and negative point prompts."""
import numpy as np
import pytest

from epsam.prompts import NegativePointPrompt, ProbabilisticPointPrompt, Prompts, UniformPointPrompt


def _blob(size=64):
    """A CAM ramp with a 20 x 30 rectangular mask (600 pixels)."""
    cam = np.zeros((size, size))
    cam[10:30, 20:50] = np.linspace(0.1, 1.0, 30)[None, :]
    return cam, cam > 0


def _pixels(prompts: Prompts) -> np.ndarray:
    coords = prompts.point_coords
    assert np.array_equal(coords, np.round(coords)), 'points must be pixel indices'
    return coords.astype(int)


@pytest.mark.parametrize('generator_cls', [ProbabilisticPointPrompt, UniformPointPrompt])
def test_positive_points_count_inside_and_distinct(generator_cls):
    cam, mask = _blob()
    prompts = generator_cls(num_points=50)(cam, mask, np.random.default_rng(0))
    assert prompts.image_size == (64, 64)
    assert prompts.num_points == 50
    np.testing.assert_array_equal(prompts.point_labels, np.ones(50, np.int64))
    xy = _pixels(prompts)
    assert mask[xy[:, 1], xy[:, 0]].all()
    assert len({tuple(p) for p in xy}) == 50


@pytest.mark.parametrize('generator_cls', [ProbabilisticPointPrompt, UniformPointPrompt])
def test_small_mask_gives_all_its_pixels(generator_cls):
    cam = np.full((8, 8), 0.5)
    cam[0, 0] = 0.0
    mask = np.zeros((8, 8), bool)
    mask[2, 3] = mask[5, 6] = mask[7, 0] = True
    prompts = generator_cls(num_points=50)(cam, mask, np.random.default_rng(0))
    assert {tuple(p) for p in _pixels(prompts)} == {(3, 2), (6, 5), (0, 7)}


@pytest.mark.parametrize('generator_cls', [ProbabilisticPointPrompt, UniformPointPrompt,
                                           NegativePointPrompt])
def test_empty_candidates_give_empty_prompts(generator_cls):
    cam = np.ones((16, 16)) if generator_cls is NegativePointPrompt else np.zeros((16, 16))
    mask = np.zeros((16, 16), bool)
    prompts = generator_cls()(cam, mask, np.random.default_rng(0))
    assert prompts.is_empty
    assert prompts.point_coords.shape == (0, 2) and prompts.point_labels.shape == (0,)


@pytest.mark.parametrize('generator_cls', [ProbabilisticPointPrompt, UniformPointPrompt,
                                           NegativePointPrompt])
def test_same_seed_same_points_and_no_global_state(generator_cls):
    cam, mask = _blob()
    generator = generator_cls(num_points=20)
    np.random.seed(123)
    global_state = np.random.get_state()[1].copy()
    first = generator(cam, mask, np.random.default_rng(7))
    second = generator(cam, mask, np.random.default_rng(7))
    other = generator(cam, mask, np.random.default_rng(8))
    np.testing.assert_array_equal(first.point_coords, second.point_coords)
    assert not np.array_equal(first.point_coords, other.point_coords)
    np.testing.assert_array_equal(np.random.get_state()[1], global_state)


def test_probabilistic_sampling_follows_the_cam():
    # Left half CAM 0.25, right half 0.75, background 0: after min-max scaling
    # the weights are 1/3 and 1, so about 3/4 of the draws fall on the right.
    cam = np.zeros((40, 40))
    cam[10:30, 10:20] = 0.25
    cam[10:30, 20:30] = 0.75
    mask = cam > 0
    generator = ProbabilisticPointPrompt(num_points=10)
    rng = np.random.default_rng(2024)
    xs = np.concatenate([generator(cam, mask, rng).point_coords[:, 0] for _ in range(300)])
    right = np.mean(xs >= 20)
    assert 0.70 < right < 0.80, right
    # The uniform generator ignores the CAM: about half on each side.
    uniform = UniformPointPrompt(num_points=10)
    xs = np.concatenate([uniform(cam, mask, rng).point_coords[:, 0] for _ in range(300)])
    assert 0.45 < np.mean(xs >= 20) < 0.55


def test_single_draw_frequencies_match_normalised_cam():
    cam = np.array([[0.0, 0.2, 0.4, 0.8, 1.0]])  # weights after min-max: 0, .2, .4, .8, 1
    mask = np.array([[True, True, True, True, False]])
    generator = ProbabilisticPointPrompt(num_points=1)
    rng = np.random.default_rng(5)
    xs = np.array([generator(cam, mask, rng).point_coords[0, 0] for _ in range(2000)])
    counts = np.bincount(xs.astype(int), minlength=5) / len(xs)
    np.testing.assert_allclose(counts, [0, 0.2 / 1.4, 0.4 / 1.4, 0.8 / 1.4, 0], atol=0.04)


def test_zero_weight_pixels_come_last_and_constant_cam_is_uniform():
    cam = np.array([[0.0, 0.0, 0.5, 1.0]])
    mask = np.ones((1, 4), bool)
    prompts = ProbabilisticPointPrompt(num_points=3)(cam, mask, np.random.default_rng(0))
    xs = set(prompts.point_coords[:, 0].astype(int))
    assert {2, 3} <= xs and len(xs) == 3
    flat = np.full((1, 4), 0.3)
    prompts = ProbabilisticPointPrompt(num_points=4)(flat, mask, np.random.default_rng(0))
    assert set(prompts.point_coords[:, 0].astype(int)) == {0, 1, 2, 3}


def test_negative_points_lie_in_confident_background():
    cam, mask = _blob()
    cam[40:, :] = 0.5  # not confident background
    prompts = NegativePointPrompt(num_points=30, cam_threshold=0.2)(
        cam, mask, np.random.default_rng(1))
    assert prompts.num_points == 30
    np.testing.assert_array_equal(prompts.point_labels, np.zeros(30, np.int64))
    xy = _pixels(prompts)
    assert not mask[xy[:, 1], xy[:, 0]].any()
    assert (cam[xy[:, 1], xy[:, 0]] < 0.2).all()
    assert len({tuple(p) for p in xy}) == 30


def test_bad_inputs_raise_clear_errors():
    cam, mask = _blob()
    generator = ProbabilisticPointPrompt()
    rng = np.random.default_rng(0)
    with pytest.raises(TypeError, match='rng'):
        generator(cam, mask, None)
    with pytest.raises(TypeError, match='rng'):
        generator(cam, mask, np.random.RandomState(0))
    with pytest.raises(ValueError, match='needs a mask'):
        generator(cam, None, rng)
    with pytest.raises(ValueError, match='2-D'):
        generator(cam[None], mask, rng)
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        generator(cam * 3, mask, rng)
    with pytest.raises(ValueError, match='NaN'):
        generator(np.full_like(cam, np.nan), mask, rng)
    with pytest.raises(ValueError, match='mask shape'):
        generator(cam, mask[:-1], rng)
    with pytest.raises(ValueError, match='0/1'):
        generator(cam, mask * 2, rng)
    with pytest.raises(ValueError, match='num_points'):
        ProbabilisticPointPrompt(num_points=0)
    with pytest.raises(ValueError, match='cam_threshold'):
        NegativePointPrompt(cam_threshold=1.5)
    # 0/1 integer masks are accepted
    assert generator(cam, mask.astype(np.uint8), rng).num_points == 50

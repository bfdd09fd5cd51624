"""SamTuningModel(dihedral_in_embedding_space=True): flips / turns applied to embeddings."""
import itertools

import mmcv
import numpy as np
import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

import epsam  # noqa: F401
from epsam.models.sam import SamTuningModel
from epsam.models.sam.tuning.dihedral import DihedralTransform
from epsam.registry import TRANSFORMS

SIZE = 64
ORIENTATIONS = list(itertools.product((None, 'horizontal', 'vertical'), range(4)))


def pattern(seed: int = 0, shape=(SIZE, SIZE)) -> np.ndarray:
    """A random HWC uint8 image with no symmetry."""
    return np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)


def packed(results: dict) -> dict:
    """The pipeline's flip then turn, drawn at random, then ``PackSamInputs``."""
    for cfg in (dict(type='RandomFlip', prob=0.5, direction=['horizontal', 'vertical']),
                dict(type='RandomRotate90', prob=0.75),
                dict(type='GenerateMaskPrompts',
                     generator=dict(type='UniformPointPrompt', num_points=5)),
                dict(type='PackSamInputs')):
        results = TRANSFORMS.build(cfg)(results)
    return results


def test_pipeline_metainfo_undoes_every_orientation_exactly():
    from epsam.models.sam.cache.cache_keys import image_content_key
    image = pattern()
    original = torch.from_numpy(image).permute(2, 0, 1).contiguous()
    seen = set()
    for seed in range(60):
        np.random.seed(seed)
        mask = np.zeros((SIZE, SIZE), np.uint8)
        mask[5:20, 8:30] = 1
        out = packed(dict(img=image.copy(), img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE),
                          gt_seg_map=mask, seg_fields=['gt_seg_map']))
        meta = out['data_samples'].metainfo
        assert {'flip', 'flip_direction', 'rotate90_k', 'rotate90_after_flip'} <= set(meta)
        transform = DihedralTransform.from_metainfo(meta)
        restored = transform.invert(out['inputs'])
        assert restored.dtype == original.dtype and restored.numpy().tobytes() == \
            original.numpy().tobytes()
        assert image_content_key(restored, 'p') == image_content_key(original, 'p')
        assert torch.equal(transform.apply(original), out['inputs'])
        seen.add(out['inputs'].numpy().tobytes())
    assert len(seen) == 8  # every orientation of the square came up


@pytest.mark.parametrize('flip_first', [True, False])
@pytest.mark.parametrize('direction,k', ORIENTATIONS + [('diagonal', 1)])
def test_transform_matches_mmcv_and_numpy(direction, k, flip_first):
    image = pattern(1)
    flip = (lambda a: a) if direction is None else (lambda a: mmcv.imflip(a, direction))
    turn = (lambda a: np.rot90(a, k))  # noqa: E731
    augmented = turn(flip(image)) if flip_first else flip(turn(image))
    transform = DihedralTransform.from_metainfo(dict(
        flip=direction is not None, flip_direction=direction, rotate90_k=k,
        rotate90_after_flip=flip_first))
    chw = torch.from_numpy(image).permute(2, 0, 1)
    expected = torch.from_numpy(np.ascontiguousarray(augmented)).permute(2, 0, 1)
    assert torch.equal(transform.apply(chw), expected)
    assert torch.equal(transform.invert(expected), chw)


def oriented_sample(direction, k, image_hwc: np.ndarray):
    """An augmented image (3, H, W) float RGB and its sample recording the orientation."""
    transform = DihedralTransform(direction, k)
    image = transform.apply(torch.from_numpy(image_hwc).permute(2, 0, 1).float())
    height, width = image.shape[-2:]
    sample = SegDataSample(metainfo=dict(
        img_shape=(height, width), ori_shape=(height, width), flip=direction is not None,
        flip_direction=direction, rotate90_k=k, rotate90_after_flip=True))
    return image, sample, transform


@pytest.fixture(scope='module')
def cached_model(tmp_path_factory):
    torch.manual_seed(0)
    return SamTuningModel(sam=dict(variant='tiny'), dihedral_in_embedding_space=True,
                          embedding_cache=dict(cache_dir=str(tmp_path_factory.mktemp('cache')),
                                               storage_dtype='float32'))


def test_eight_orientations_one_encoder_pass_and_transformed_embeddings(cached_model):
    torch.set_num_threads(1)
    image_hwc = pattern(2)
    cache = cached_model.embedding_cache
    cache.reset_stats()
    original = torch.from_numpy(image_hwc).permute(2, 0, 1).float()
    with torch.no_grad():
        reference = cache.get_or_compute([original])[0]
        for direction, k in ORIENTATIONS:
            image, sample, transform = oriented_sample(direction, k, image_hwc)
            embedding = cached_model.image_embeddings(image[None], [sample])[0]
            assert torch.equal(embedding, transform.apply(reference))
    assert cache.stats()['encoder_passes'] == 1
    assert cache.stats()['hits'] == len(ORIENTATIONS)


def test_uncached_path_transforms_the_encoder_output():
    torch.manual_seed(0)
    model = SamTuningModel(sam=dict(variant='tiny'), dihedral_in_embedding_space=True).eval()
    image, sample, transform = oriented_sample('vertical', 3, pattern(3))
    with torch.no_grad():
        embedding = model.image_embeddings(image[None], [sample])[0]
        reference = model.sam.image_encoder(model.transform.preprocess(
            transform.invert(image)[None]))[0]
    assert torch.allclose(embedding, transform.apply(reference), atol=1e-5)


@pytest.mark.parametrize('adapter', [dict(type='LoRAAdapter', rank=2),
                                     dict(type='SAMAdapter'), dict(type='BottleneckAdapter'),
                                     dict(type='CADAdapter', input_size=128,
                                          fusion_point='blocks')])
def test_adapters_inside_the_encoder_are_refused(adapter):
    with pytest.raises(ValueError, match='dihedral_in_embedding_space.*inside the image encoder'):
        SamTuningModel(sam=dict(variant='tiny'), adapter=adapter,
                       dihedral_in_embedding_space=True)


def test_cad_at_the_neck_and_training_encoder():
    SamTuningModel(sam=dict(variant='tiny'), adapter=dict(type='CADAdapter', input_size=128),
                   dihedral_in_embedding_space=True)
    with pytest.raises(ValueError, match='dihedral_in_embedding_space.*frozen image_encoder'):
        SamTuningModel(sam=dict(variant='tiny'), freeze=('prompt_encoder', ),
                       dihedral_in_embedding_space=True)


def test_non_square_is_refused_only_when_flipped_or_turned(cached_model):
    image, sample, _ = oriented_sample('horizontal', 0, pattern(4, (SIZE, 48)))
    with pytest.raises(ValueError, match=r'dihedral_in_embedding_space=True needs square'):
        cached_model.image_embeddings(image[None], [sample])
    image, sample, _ = oriented_sample(None, 0, pattern(4, (SIZE, 48)))
    with torch.no_grad():
        assert cached_model.image_embeddings(image[None], [sample])[0].ndim == 3


def test_training_with_augmented_samples_reduces_the_loss():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = SamTuningModel(sam=dict(variant='tiny'), dihedral_in_embedding_space=True)
    base = np.full((SIZE, SIZE, 3), 20, np.uint8)
    base[8:32, 10:40] = 230
    samples, images = [], []
    for direction, k in [(None, 0), ('horizontal', 1), ('vertical', 2), (None, 3)]:
        image, sample, transform = oriented_sample(direction, k, base)
        mask = transform.apply(torch.from_numpy((base[..., 0] > 100).astype(np.int64))[None])
        sample.gt_sem_seg = PixelData(data=mask)
        ys, xs = torch.nonzero(mask[0], as_tuple=True)
        sample.prompt_points = torch.stack([xs, ys], 1)[::97].float()
        sample.prompt_labels = torch.ones(len(sample.prompt_points), dtype=torch.int)
        images.append(image)
        samples.append(sample)
    wrapper = build_optim_wrapper(model, dict(optimizer=dict(type='AdamW', lr=5e-3)))
    model.train()
    history = []
    for step in range(20):
        batch = [step % 4, (step + 1) % 4]
        losses = model(torch.stack([images[i] for i in batch]), [samples[i] for i in batch],
                       mode='loss')
        loss = sum(losses.values())
        wrapper.update_params(loss)
        history.append(loss.item())
    assert sum(history[-4:]) / 4 < 0.6 * sum(history[:4]) / 4

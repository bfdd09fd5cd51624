import copy
import multiprocessing
import os
import warnings
from pathlib import Path

import pytest
import torch

import epsam  # noqa: F401
from epsam.models.sam import build_sam
from epsam.models.sam.building.input_transform import SamInputTransform
from epsam.models.sam.cache.cache_keys import (EncoderFingerprint, canonical_pixels,
                                               file_content_key, image_content_key)
from epsam.models.sam.cache.embedding_cache import SamEmbeddingCache
from epsam.models.sam.cache.embedding_entry import CorruptCacheEntry, read_cache_entry

EMBED_SHAPE = (32, 16, 16)  # tiny variant: prompt_embed_dim 32, 256 px / 16 px patches


def make_images(count=3, seed=0, sizes=((64, 64), (48, 80), (96, 96))):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 256, (3, *sizes[i % len(sizes)]), generator=generator,
                          dtype=torch.uint8) for i in range(count)]


def tiny_encoder(seed=0):
    torch.manual_seed(seed)
    return build_sam('tiny').image_encoder


def fresh_embeddings(encoder, images):
    """Encoder output, one image at a time, without any cache."""
    transform = SamInputTransform(encoder.img_size)
    with torch.no_grad():
        return torch.cat([encoder(transform.preprocess(image[None])) for image in images])


def entry_files(root: Path):
    return sorted(p for p in root.rglob('*') if p.is_file())


@pytest.fixture(scope='module')
def encoder():
    return tiny_encoder()


def test_miss_then_hit_with_identical_fp16_values_and_counters(tmp_path, encoder):
    images = make_images()
    cache = SamEmbeddingCache(tmp_path, encoder, batch_size=2)
    first = cache.get_or_compute(images)
    assert first.shape == (3, *EMBED_SHAPE) and first.dtype == torch.float32
    expected = fresh_embeddings(encoder, images).half().float()
    torch.testing.assert_close(first, expected, atol=2e-3, rtol=0)  # batched vs single pass
    stats = cache.stats()
    assert (stats['misses'], stats['hits'], stats['encoder_passes'], stats['encoder_batches'],
            stats['entries_written']) == (3, 0, 3, 2, 3)
    assert stats['bytes_written'] == sum(p.stat().st_size for p in entry_files(tmp_path))

    second = SamEmbeddingCache(tmp_path, encoder).get_or_compute(images)
    assert torch.equal(second, first)
    reread = SamEmbeddingCache(tmp_path, encoder)
    reread.get_or_compute(images[:2])
    reread.get_or_compute(images[1:])
    assert {k: reread.stats()[k] for k in ('hits', 'disk_hits', 'misses', 'encoder_passes')} == \
        dict(hits=4, disk_hits=4, misses=0, encoder_passes=0)


def test_single_image_hit_equals_fp16_rounded_fresh_embedding_exactly(tmp_path, encoder):
    image = make_images(1)
    fresh = fresh_embeddings(encoder, image).half().float()
    cache = SamEmbeddingCache(tmp_path, encoder, batch_size=1)
    assert torch.equal(cache.get_or_compute(image), fresh)
    assert torch.equal(SamEmbeddingCache(tmp_path, encoder).get_or_compute(image), fresh)


def test_one_changed_pixel_is_a_miss(tmp_path, encoder):
    images = make_images(2)
    cache = SamEmbeddingCache(tmp_path, encoder)
    cache.get_or_compute(images)
    changed = images[1].clone()
    changed[2, 5, 7] ^= 1
    cache.reset_stats()
    out = cache.get_or_compute([images[0], changed])
    assert (cache.stats()['hits'], cache.stats()['misses']) == (1, 1)
    assert len(entry_files(tmp_path)) == 3
    assert torch.equal(out[1], fresh_embeddings(encoder, [changed])[0].half().float())


def test_float_and_uint8_pixels_share_a_key_and_augmentation_gives_a_new_one():
    image = make_images(1)[0]
    key = image_content_key(image, 'p')
    assert image_content_key(image.float(), 'p') == key
    assert canonical_pixels(image.float() + 0.5).dtype == torch.float32
    assert image_content_key(image.float() + 0.5, 'p') != key
    assert image_content_key(image.flip(-1), 'p') != key
    assert image_content_key(image, 'other preprocessing') != key
    assert image_content_key(image, 'p', variant_id='stain_v2') != key


def test_changed_encoder_weight_is_a_miss_new_instance_and_in_place(tmp_path, encoder):
    images = make_images(2)
    old = SamEmbeddingCache(tmp_path, encoder).get_or_compute(images)

    other = copy.deepcopy(encoder)
    with torch.no_grad():
        other.neck[0].weight[0, 0, 0, 0] += 0.5
    cache = SamEmbeddingCache(tmp_path, other)
    out = cache.get_or_compute(images)
    assert (cache.stats()['hits'], cache.stats()['misses']) == (0, 2)
    assert cache.stats()['encoder_passes'] == 2 and not torch.equal(out, old)
    torch.testing.assert_close(out, fresh_embeddings(other, images).half().float(),
                               atol=2e-3, rtol=0)
    assert len(entry_files(tmp_path)) == 4

    # the same instance edited in place: the version counter triggers a re-hash
    before = cache.encoder_fingerprint
    with torch.no_grad():
        other.blocks[0].attn.qkv.bias[3] -= 1.0
    assert cache.encoder_fingerprint != before
    cache.reset_stats()
    cache.get_or_compute(images[:1])
    assert cache.stats()['misses'] == 1 and cache.stats()['encoder_passes'] == 1


def test_fingerprint_is_computed_once_per_unchanged_encoder(encoder):
    fingerprint = EncoderFingerprint(encoder, tag='tiny')
    digests = {fingerprint.digest for _ in range(5)}
    assert len(digests) == 1 and fingerprint.computations == 1
    assert EncoderFingerprint(encoder, tag='vit_b').digest not in digests
    assert EncoderFingerprint(copy.deepcopy(encoder), tag='tiny').digest in digests


def test_float16_storage_size_and_sharded_layout(tmp_path, encoder):
    images = make_images(2)
    SamEmbeddingCache(tmp_path, encoder).get_or_compute(images)
    files = entry_files(tmp_path)
    assert len(files) == 2
    payload = 32 * 16 * 16 * 2
    for path in files:
        rel = path.relative_to(tmp_path).parts
        assert len(rel) == 3 and rel[2].startswith(rel[0] + rel[1]) and rel[2].endswith('.emb')
        assert payload < path.stat().st_size < payload + 1024
        tensor, _ = read_cache_entry(path, dict(key=path.stem, dtype='float16'))
        assert tensor.dtype == torch.float16 and tuple(tensor.shape) == EMBED_SHAPE

    wide = tmp_path / 'fp32'
    SamEmbeddingCache(wide, encoder, storage_dtype='float32').get_or_compute(images[:1])
    (fp32_file, ) = entry_files(wide)
    assert 2 * payload < fp32_file.stat().st_size < 2 * payload + 1024


def test_atomic_writes_leave_no_temp_files_and_stale_ones_are_removed(tmp_path, encoder):
    cache = SamEmbeddingCache(tmp_path, encoder)
    cache.get_or_compute(make_images(3))
    assert not [p for p in tmp_path.rglob('*') if p.name.startswith('.tmp-')]
    shard = entry_files(tmp_path)[0].parent
    stale = shard / '.tmp-killedwriter.part'
    stale.write_bytes(b'partial')
    os.utime(stale, (0, 0))
    fresh = shard / '.tmp-livewriter.part'
    fresh.write_bytes(b'partial')
    assert cache.remove_stale_temp_files(older_than_s=60) == 1
    assert not stale.exists() and fresh.exists()


@pytest.mark.parametrize('damage', ['truncate', 'garbage', 'flip_payload_byte', 'empty'])
def test_corrupt_entry_is_detected_and_recomputed(tmp_path, encoder, damage):
    image = make_images(1)
    cache = SamEmbeddingCache(tmp_path, encoder)
    good = cache.get_or_compute(image)
    (path, ) = entry_files(tmp_path)
    data = path.read_bytes()
    if damage == 'truncate':
        path.write_bytes(data[:len(data) // 2])
    elif damage == 'garbage':
        path.write_bytes(os.urandom(len(data)))
    elif damage == 'flip_payload_byte':
        path.write_bytes(data[:-10] + bytes([data[-10] ^ 0xFF]) + data[-9:])
    else:
        path.write_bytes(b'')
    with pytest.raises(CorruptCacheEntry):
        read_cache_entry(path, {})

    again = SamEmbeddingCache(tmp_path, encoder)
    with pytest.warns(RuntimeWarning, match='corrupt entry'):
        out = again.get_or_compute(image)
    assert torch.equal(out, good)
    stats = again.stats()
    assert (stats['corrupt_entries'], stats['misses'], stats['encoder_passes']) == (1, 1, 1)
    assert path.read_bytes() == data
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert torch.equal(SamEmbeddingCache(tmp_path, encoder).get_or_compute(image), good)


def test_memory_lru_is_bounded_by_bytes(tmp_path, encoder):
    images = make_images(3)
    entry_bytes = 32 * 16 * 16 * 2
    cache = SamEmbeddingCache(tmp_path, encoder, memory_limit_bytes=2 * entry_bytes)
    cache.get_or_compute(images)
    assert cache.stats()['memory_entries'] == 2
    assert cache.stats()['memory_bytes'] == 2 * entry_bytes
    cache.reset_stats()
    cache.get_or_compute(images[1:])  # the two most recent are in memory
    cache.get_or_compute(images[:1])  # evicted: read from disk
    stats = cache.stats()
    assert (stats['memory_hits'], stats['disk_hits'], stats['misses']) == (2, 1, 0)


def test_explicit_keys_and_repeated_images_in_one_call(tmp_path, encoder, tmp_path_factory):
    image = make_images(1)[0]
    picture = tmp_path_factory.mktemp('img') / 'patch.png'
    picture.write_bytes(b'not really a png, but bytes to hash')
    cache = SamEmbeddingCache(tmp_path, encoder)
    keys = [file_content_key(picture, cache.preprocess, 'none'),
            file_content_key(picture, cache.preprocess, 'hflip')]
    assert keys[0] != keys[1]
    out = cache.get_or_compute([image, image.flip(-1), image], keys=keys + keys[:1])
    assert torch.equal(out[0], out[2]) and not torch.equal(out[0], out[1])
    assert cache.stats()['encoder_passes'] == 2 and cache.stats()['misses'] == 3


def test_bad_arguments_raise_clear_errors(tmp_path, encoder):
    with pytest.raises(ValueError, match='storage_dtype'):
        SamEmbeddingCache(tmp_path, encoder, storage_dtype='int8')
    not_a_dir = tmp_path / 'file'
    not_a_dir.write_text('x')
    with pytest.raises(NotADirectoryError, match='cache_dir'):
        SamEmbeddingCache(not_a_dir, encoder)
    cache = SamEmbeddingCache(tmp_path / 'c', encoder)
    with pytest.raises(ValueError, match='image 0 must be an RGB tensor'):
        cache.get_or_compute([torch.zeros(1, 8, 8)])
    with pytest.raises(ValueError, match='one non-empty string key per image'):
        cache.get_or_compute(make_images(2), keys=['a'])
    with pytest.raises(ValueError, match='does not match the encoder output'):
        cache.put('k', torch.zeros(3, 4, 4))
    with pytest.raises(FileNotFoundError, match='no such file'):
        file_content_key(tmp_path / 'missing.png', cache.preprocess, 'none')


def _hammer(cache_dir, seed, rounds, barrier, queue):
    """Worker: compute, rewrite and re-read the same entries many times."""
    torch.set_num_threads(1)
    try:
        encoder = tiny_encoder(seed)
        images = make_images(3)
        cache = SamEmbeddingCache(cache_dir, encoder)
        barrier.wait(timeout=120)  # start together so the writes overlap
        reference = cache.get_or_compute(images)
        keys = [cache.content_key(image) for image in images]
        for _ in range(rounds):
            for key, value in zip(keys, reference):
                cache.put(key, value)
                read = SamEmbeddingCache(cache_dir, encoder).get_or_compute(images)
                if not torch.equal(read, reference):
                    raise AssertionError('read back a different embedding')
        queue.put(('ok', reference.numpy(), cache.stats()['corrupt_entries']))  # not shared memory
    except BaseException as err:  # report to the parent instead of dying silently
        queue.put(('error', repr(err), None))


@pytest.mark.slow
def test_two_processes_hammering_the_same_keys_end_consistent(tmp_path):
    context = multiprocessing.get_context('spawn')
    queue, barrier = context.Queue(), context.Barrier(2)
    workers = [context.Process(target=_hammer, args=(str(tmp_path), 0, 30, barrier, queue))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=240) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert [r[0] for r in results] == ['ok', 'ok'], results
    assert [r[2] for r in results] == [0, 0]
    reference = torch.from_numpy(results[0][1])
    assert torch.equal(reference, torch.from_numpy(results[1][1]))
    files = entry_files(tmp_path)
    assert len(files) == 3 and not [p for p in files if p.name.startswith('.tmp-')]
    cache = SamEmbeddingCache(tmp_path, tiny_encoder(0))
    assert torch.equal(cache.get_or_compute(make_images(3)), reference)
    assert cache.stats()['hits'] == 3 and cache.stats()['corrupt_entries'] == 0


def test_failed_write_warns_returns_the_embedding_and_leaves_no_temp_file(
        tmp_path, encoder, monkeypatch):
    image = make_images(1)
    cache = SamEmbeddingCache(tmp_path, encoder)

    def refuse(*args, **kwargs):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(os, 'replace', refuse)
    with pytest.warns(RuntimeWarning, match='cannot write'):
        out = cache.get_or_compute(image)
    assert torch.equal(out, fresh_embeddings(encoder, image).half().float())
    assert cache.stats()['write_errors'] == 1 and cache.stats()['entries_written'] == 0
    assert entry_files(tmp_path) == []


def test_cached_embedding_drives_the_tuning_model_like_the_encoder(tmp_path):
    from mmseg.structures import SegDataSample

    from epsam.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(dict(type='SamTuningModel', sam=dict(variant='tiny')))
    bgr = make_images(1, sizes=((64, 64), ))[0]
    sample = SegDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64)))
    sample.prompt_points = torch.tensor([[20.0, 30.0], [40.0, 12.0]])
    data = model.data_preprocessor(dict(inputs=[bgr], data_samples=[sample]), False)
    cache = SamEmbeddingCache(tmp_path, model.sam.image_encoder)
    # the preprocessor's float RGB batch and the uint8 RGB image share a key
    assert cache.content_key(data['inputs'][0]) == cache.content_key(bgr.flip(0))
    direct_logits, _ = model(data['inputs'], data['data_samples'], mode='tensor')
    sample.image_embedding = cache.get_or_compute(data['inputs'])[0]
    cached_logits, _ = model(None, [sample], mode='tensor')
    torch.testing.assert_close(cached_logits, direct_logits, atol=1e-3, rtol=0)  # fp16 rounding

"""SAM's one inference road: embedders and prompts of many images per decoder call."""
import numpy as np
import pytest
import torch

import epsam  # noqa: F401
from epsam.models.sam import EncoderEmbedder, SamMaskPredictor, build_sam
from epsam.prompts import Prompts


@pytest.fixture(scope='module')
def sam():
    torch.manual_seed(0)
    return build_sam('tiny')


def _prompts(rng, size, points, boxes=0):
    height, width = size
    coords = rng.uniform(0, min(size) - 1, (points, 2))
    box = np.array([[2, 3, width - 5, height - 4]] * boxes, dtype=np.float32)
    return Prompts(image_size=size, point_coords=coords,
                   point_labels=np.ones(points, np.int64), boxes=box.reshape(-1, 4))


def test_grouped_decode_matches_image_by_image(sam):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (64, 48 + 8 * i, 3), dtype=np.uint8) for i in range(4)]
    # Images 0-2 share a shape (5 points); image 3 has two boxes and 3 points.
    prompts = [_prompts(rng, im.shape[:2], 5) for im in images[:3]]
    prompts.append(_prompts(rng, images[3].shape[:2], 3, 2))
    one = SamMaskPredictor(sam)
    embeddings = list(one.embed(images))
    assert (one.images_encoded, one.encoder_calls) == (4, 1)
    single = one.decode(embeddings, prompts)
    for embedding, prompt, (logits, iou) in zip(embeddings, prompts, single):
        again, again_iou = one.decode([embedding], [prompt])[0]
        assert torch.equal(logits, again) and iou == again_iou  # image by image: exact
        assert logits.shape == prompt.image_size
    grouped = SamMaskPredictor(sam, decode_batch=4).decode(embeddings, prompts)
    for (logits, iou), (other, other_iou) in zip(single, grouped):
        assert torch.allclose(logits, other, atol=1e-4) and abs(iou - other_iou) < 1e-5


def test_embedders_agree_and_count(sam):
    image = np.random.default_rng(1).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    embedder = EncoderEmbedder(sam)
    predictor = SamMaskPredictor(sam, embedder=embedder)
    embedding = predictor.set_image(image)
    assert embedder.stats() == dict(encoder_passes=1, encoder_batches=1)
    tensor = torch.from_numpy(image).permute(2, 0, 1)
    assert torch.equal(embedder.get_or_compute([tensor])[0], embedding)
    with pytest.raises(TypeError, match='get_or_compute'):
        SamMaskPredictor(sam, embedder=object()).embed([image])
    with pytest.raises(ValueError, match='decode_batch'):
        SamMaskPredictor(sam, decode_batch=0)

import numpy as np
import pytest
import torch

import epsam  # noqa: F401
from epsam.models.sam import (SamInputTransform, SamMaskPredictor, build_sam, decode_masks,
                              embed_prompts)


@pytest.fixture(scope='module')
def sam():
    torch.manual_seed(0)
    return build_sam('tiny')


def test_predictor_from_image_and_from_cached_embedding_agree(sam):
    image = np.random.default_rng(0).integers(0, 256, (96, 80, 3), dtype=np.uint8)
    predictor = SamMaskPredictor(sam)
    embedding = predictor.set_image(image)
    points, labels = torch.tensor([[40.0, 48.0], [5.0, 5.0]]), torch.tensor([1, 0])
    logits, iou = predictor.predict(points, labels, boxes=torch.tensor([10, 10, 70, 90]))
    assert logits.shape == (96, 80) and iou.ndim == 0

    cached = SamMaskPredictor(sam)
    cached.set_embedding(embedding.clone(), (96, 80))
    again, _ = cached.predict(points, labels, boxes=torch.tensor([10, 10, 70, 90]))
    assert torch.allclose(logits, again)


def test_multimask_keeps_best_candidate(sam):
    transform = SamInputTransform.from_sam(sam)
    embedding = torch.randn(1, 32, 16, 16)
    points, labels = torch.tensor([[30.0, 30.0]]), torch.tensor([1])
    sparse, dense = embed_prompts(sam, transform, (64, 64), points, labels)
    with torch.no_grad():
        low_res, iou = decode_masks(sam, embedding, sparse, dense, multimask_output=True)
    assert low_res.shape == (1, 3, 64, 64) and iou.shape == (1, 3)
    predictor = SamMaskPredictor(sam)
    predictor.set_embedding(embedding[0], (64, 64))
    logits, best = predictor.predict(points, labels, multimask_output=True)
    assert best == iou.max()


def test_prompt_errors(sam):
    transform = SamInputTransform.from_sam(sam)
    with pytest.raises(ValueError, match='no prompt'):
        embed_prompts(sam, transform, (64, 64))
    with pytest.raises(ValueError, match='without point labels'):
        embed_prompts(sam, transform, (64, 64), torch.zeros(2, 2))
    with pytest.raises(ValueError, match='2 prompt points but 1'):
        embed_prompts(sam, transform, (64, 64), torch.zeros(2, 2), torch.ones(1))
    sparse, dense = embed_prompts(sam, transform, (64, 64), boxes=torch.tensor([0, 0, 9, 9]))
    with pytest.raises(ValueError, match='image embedding must have shape'):
        decode_masks(sam, torch.zeros(1, 16, 16, 16), sparse, dense)
    with pytest.raises(RuntimeError, match='set_image'):
        SamMaskPredictor(sam).predict(boxes=torch.tensor([0, 0, 9, 9]))


def test_several_boxes_give_the_union_of_their_masks(sam):
    image = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    predictor = SamMaskPredictor(sam)
    predictor.set_image(image)
    boxes = torch.tensor([[2.0, 2.0, 20.0, 20.0], [30.0, 35.0, 60.0, 62.0]])
    united, iou = predictor.predict(boxes=boxes)
    parts = [predictor.predict(boxes=box) for box in boxes]
    assert torch.allclose(united, torch.maximum(parts[0][0], parts[1][0]), atol=1e-5)
    assert torch.equal(united > 0, (parts[0][0] > 0) | (parts[1][0] > 0))
    assert torch.isclose(iou, (parts[0][1] + parts[1][1]) / 2, atol=1e-6)
    # points go with every box: two prompt sets of (points + box)
    transform = SamInputTransform.from_sam(sam)
    sparse, dense = embed_prompts(sam, transform, (64, 64), torch.tensor([[10.0, 10.0]]),
                                  torch.tensor([1]), boxes)
    assert sparse.shape[0] == 2 and dense.shape[0] == 2

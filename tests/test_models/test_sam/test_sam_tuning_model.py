import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

import epsam  # noqa: F401
from epsam.models.sam import SamTuningModel
from epsam.registry import MODELS

SIZE = 64


def square_sample(top: int, left: int, side: int = 24, with_image: bool = True):
    """A bright square on a dark background, prompted with points inside it."""
    image = torch.full((3, SIZE, SIZE), 20, dtype=torch.uint8)
    image[:, top:top + side, left:left + side] = 230
    mask = torch.zeros(1, SIZE, SIZE, dtype=torch.long)
    mask[:, top:top + side, left:left + side] = 1
    sample = SegDataSample(metainfo=dict(img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE)))
    sample.gt_sem_seg = PixelData(data=mask)
    centre = torch.tensor([left + side / 2, top + side / 2])
    sample.prompt_points = torch.stack([centre, centre + 4, centre - 4])
    sample.prompt_labels = torch.ones(3, dtype=torch.int)
    return image, sample


@pytest.fixture
def model():
    torch.manual_seed(0)
    return MODELS.build(dict(type='SamTuningModel', sam=dict(variant='tiny')))


def test_frozen_parts_get_no_gradient_and_no_optimizer_slot(model):
    image, sample = square_sample(10, 12)
    model.train()
    assert not model.sam.image_encoder.training and model.sam.mask_decoder.training
    data = model.data_preprocessor(dict(inputs=[image], data_samples=[sample]), True)
    losses = model(**data, mode='loss')
    sum(losses.values()).backward()
    for part in ('image_encoder', 'prompt_encoder'):
        for param in getattr(model.sam, part).parameters():
            assert not param.requires_grad and param.grad is None
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.sam.mask_decoder.parameters())

    wrapper = build_optim_wrapper(model, dict(
        optimizer=dict(type='AdamW', lr=1e-4), paramwise_cfg=dict(bypass_duplicate=True)))
    in_optimizer = {id(p) for group in wrapper.optimizer.param_groups for p in group['params']}
    assert in_optimizer == {id(p) for p in model.sam.mask_decoder.parameters()}


def test_unknown_frozen_part_is_refused():
    with pytest.raises(ValueError, match='unknown SAM parts'):
        SamTuningModel(freeze=('image_encoder', 'decoder'))


def test_training_on_cached_embeddings_reduces_loss(model):
    torch.set_num_threads(1)
    samples, images = [], []
    for top, left in [(8, 8), (30, 10), (12, 34), (32, 32)]:
        image, sample = square_sample(top, left)
        images.append(image.float()[[2, 1, 0]])
        samples.append(sample)
    with torch.no_grad():  # the embedding cache: encode once
        embeddings = model.image_embeddings(torch.stack(images), samples)
    for sample, embedding in zip(samples, embeddings):
        sample.image_embedding = embedding
    wrapper = build_optim_wrapper(model, dict(
        optimizer=dict(type='AdamW', lr=5e-3), paramwise_cfg=dict(bypass_duplicate=True)))
    model.train()
    history = []
    for step in range(30):
        batch = [samples[step % 4], samples[(step + 1) % 4]]
        losses = model(None, batch, mode='loss')
        loss = sum(losses.values())
        wrapper.update_params(loss)
        history.append(loss.item())
    assert sum(history[-5:]) / 5 < 0.5 * sum(history[:5]) / 5
    model.eval()
    with torch.no_grad():
        pred = model.predict(None, [samples[0]])[0].pred_sem_seg.data.bool()
    truth = samples[0].gt_sem_seg.data.bool()
    assert (pred & truth).sum() / (pred | truth).sum() > 0.7


def test_train_step_through_data_preprocessor(model):
    image, sample = square_sample(10, 12)
    wrapper = build_optim_wrapper(model, dict(optimizer=dict(type='AdamW', lr=1e-3)))
    before = [p.clone() for p in model.sam.image_encoder.parameters()]
    decoder_before = [p.clone() for p in model.sam.mask_decoder.parameters()]
    log = model.train_step(dict(inputs=[image], data_samples=[sample]), wrapper)
    assert {'loss', 'loss_dice', 'loss_iou'} <= set(log)
    assert all(torch.equal(a, b) for a, b in zip(before, model.sam.image_encoder.parameters()))
    assert any(not torch.equal(a, b)
               for a, b in zip(decoder_before, model.sam.mask_decoder.parameters()))


@pytest.mark.parametrize('multimask', [False, True])
def test_predict_output_at_original_size(multimask):
    torch.manual_seed(0)
    model = SamTuningModel(multimask_output=multimask).eval()
    image, sample = square_sample(5, 5)
    sample.set_metainfo(dict(img_shape=(SIZE, 48), ori_shape=(96, 72)))
    sample.prompt_boxes = torch.tensor([4.0, 4.0, 30.0, 30.0])
    with torch.no_grad():
        out = model.test_step(dict(inputs=[image[:, :, :48]], data_samples=[sample]))[0]
    assert out.pred_sem_seg.shape == (96, 72) and out.seg_logits.shape == (96, 72)
    assert torch.equal(out.pred_sem_seg.data, (out.seg_logits.data > 0).long())
    assert out.pred_iou.ndim == 0
    logits, ious = model(torch.zeros(1, 3, SIZE, 48), [sample], mode='tensor')
    grid = model.sam.variant.low_res_mask_size
    assert logits.shape == (1, 1, grid, grid) and ious.shape == (1, )


def test_cached_embedding_matches_image_path(model):
    model.eval()
    image, sample = square_sample(20, 20)
    inputs = image.float()[None]
    with torch.no_grad():
        from_image, _ = model(inputs, [sample], mode='tensor')
        sample.image_embedding = model.image_embeddings(inputs, [sample])[0]
        from_cache, _ = model(None, [sample], mode='tensor')
    assert torch.allclose(from_image, from_cache, atol=1e-5)


def test_bad_calls_are_explained(model):
    image, sample = square_sample(20, 20)
    with pytest.raises(ValueError, match="mode must be"):
        model(image.float()[None], [sample], mode='train')
    with pytest.raises(ValueError, match='images are needed.*inputs is None'):
        model(None, [sample], mode='tensor')


def test_a_sample_without_prompts_predicts_an_empty_mask_and_adds_no_loss(model):
    image, sample = square_sample(20, 20)
    _, empty = square_sample(20, 20)
    del empty.prompt_points
    inputs = torch.stack([image, image]).float()
    low_res, ious = model(inputs, [sample, empty], mode='tensor')
    assert (low_res[1] < 0).all() and ious[1] == 0 and (low_res[0] > 0).any()
    predicted = model.predict(inputs, [sample, empty])
    assert predicted[1].pred_sem_seg.data.sum() == 0
    model.train()
    only_prompted = model(inputs[:1], [square_sample(20, 20)[1]], mode='loss')
    both = model(inputs, [square_sample(20, 20)[1], empty], mode='loss')
    for name in only_prompted:
        assert torch.allclose(only_prompted[name], both[name])
    zero = model(inputs[:1], [empty], mode='loss')
    assert list(zero) == ['loss_empty_batch'] and zero['loss_empty_batch'].item() == 0
    zero['loss_empty_batch'].backward()  # reaches the trainable parameters


def test_several_boxes_are_decoded_and_united(model):
    image, sample = square_sample(4, 4, side=16)
    image[:, 40:56, 40:56] = 230
    sample.gt_sem_seg.data[:, 40:56, 40:56] = 1
    del sample.prompt_points
    del sample.prompt_labels
    sample.prompt_boxes = torch.tensor([[4.0, 4.0, 19.0, 19.0], [40.0, 40.0, 55.0, 55.0]])
    model.train()
    data = model.data_preprocessor(dict(inputs=[image], data_samples=[sample]), True)
    losses = model(**data, mode='loss')
    sum(losses.values()).backward()
    assert any(p.grad is not None for p in model.sam.mask_decoder.parameters())
    model.eval()
    with torch.no_grad():
        united = model(**data, mode='predict')[0].seg_logits.data[0]
        parts = []
        for box in sample.prompt_boxes:
            one = sample.clone()
            one.prompt_boxes = box[None]
            parts.append(model(data['inputs'], [one], mode='predict')[0].seg_logits.data[0])
    assert torch.allclose(united, torch.maximum(*parts), atol=1e-5)

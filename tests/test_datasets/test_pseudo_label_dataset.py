import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate

from epsam.datasets import DatasetFilesError, EmptySplitError, PseudoLabelDataset
from epsam.registry import MODELS

MMSEG_PIPELINE = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                  dict(type='PackSegInputs')]


def _pseudo_tree(root, files, masked=('a_1.png', 'b_1.png'), unmasked=('c_1.png', )):
    """Images in ``img/``; pseudo-masks (0/1, 255 = unlabelled) in ``pseudo/`` for some."""
    for i, name in enumerate(masked + unmasked):
        files.rgb(osp.join(root, 'img', name), seed=i)
    for name in masked:
        mask = np.full((32, 32), 255, np.uint8)
        mask[:16] = 0
        mask[16:24] = 1
        files.gray(osp.join(root, 'pseudo', name), mask)
    return root


def _dataset(root, **kwargs):
    kwargs.setdefault('data_prefix', dict(img_path='img', seg_map_path='pseudo'))
    return PseudoLabelDataset(data_root=root, **kwargs)


def test_pairs_listed_from_masks_with_ignore(tmp_path, files):
    root = _pseudo_tree(str(tmp_path), files)
    ds = _dataset(root, source_dataset='CamelyonPatchDataset', pipeline=MMSEG_PIPELINE)
    assert len(ds) == 2  # c_1.png has no pseudo-mask (rejected): skipped
    entry = ds.get_data_info(0)
    assert entry['img_path'] == osp.join(root, 'img', 'a_1.png')
    assert entry['seg_map_path'] == osp.join(root, 'pseudo', 'a_1.png')
    assert entry['gt_label'] is None and entry['seg_fields'] == []
    assert ds.metainfo['classes'] == ('normal', 'tumor')
    assert ds.metainfo['cls_classes'] == ('tumor', ) and ds.ignore_index == 255
    seg = ds[0]['data_samples'].gt_sem_seg.data
    assert set(seg.unique().tolist()) == {0, 1, 255}
    assert int((seg == 255).sum()) == 8 * 32


def test_metainfo_from_config_wins_and_labels_can_be_parsed(tmp_path, files):
    root = _pseudo_tree(str(tmp_path), files)
    ds = _dataset(root, source_dataset='CamelyonPatchDataset',
                  metainfo=dict(palette=[[1, 2, 3], [4, 5, 6]]),
                  label_parser=dict(type='CamelyonLabelParser'),
                  pipeline=[dict(type='LoadPatchImage'), dict(type='LoadPatchAnnotations'),
                            dict(type='PackPatchInputs')])
    assert ds.metainfo['palette'] == [[1, 2, 3], [4, 5, 6]]
    sample = ds[1]['data_samples']
    assert sample.gt_label.tolist() == [1.0]
    assert set(sample.gt_sem_seg.data.unique().tolist()) == {0, 1, 255}
    plain = _dataset(root, metainfo=dict(classes=('bg', 'fg'), palette=[[0, 0, 0], [9, 9, 9]]))
    assert plain.metainfo['classes'] == ('bg', 'fg')


def test_bad_inputs(tmp_path, files):
    root = _pseudo_tree(str(tmp_path), files)
    with pytest.raises(ValueError, match='needs metainfo with "classes"'):
        _dataset(root)
    with pytest.raises(KeyError, match='NoSuchDataset'):
        _dataset(root, source_dataset='NoSuchDataset')
    files.gray(osp.join(root, 'pseudo', 'orphan.png'), np.zeros((32, 32), np.uint8))
    with pytest.raises(DatasetFilesError) as info:
        _dataset(root, source_dataset='CamelyonPatchDataset')
    assert "orphan.png: pseudo-mask has no image 'orphan.png'" in str(info.value)
    with pytest.raises(EmptySplitError) as empty:
        _dataset(root, source_dataset='CamelyonPatchDataset',
                 data_prefix=dict(img_path='img', seg_map_path='none_yet'))
    assert osp.join(root, 'none_yet') in str(empty.value)


@pytest.mark.slow
def test_pseudo_labels_train_an_mmseg_encoder_decoder(tmp_path, files):
    torch.manual_seed(0)
    root = _pseudo_tree(str(tmp_path), files)
    ds = _dataset(root, source_dataset='CamelyonPatchDataset', pipeline=MMSEG_PIPELINE)
    model = MODELS.build(dict(
        type='EncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[0, 0, 0],
                               std=[255, 255, 255], bgr_to_rgb=True, size=(32, 32),
                               seg_pad_val=255),
        backbone=dict(type='ResNetV1c', depth=18, stem_channels=8, base_channels=8,
                      out_indices=(3, )),
        decode_head=dict(type='FCNHead', in_channels=64, channels=8, num_convs=1,
                         num_classes=2, in_index=0, ignore_index=255,
                         loss_decode=dict(type='CrossEntropyLoss', avg_non_ignore=True))))
    batch = model.data_preprocessor(pseudo_collate([ds[0], ds[1]]), True)
    losses = model(**batch, mode='loss')
    assert torch.isfinite(losses['decode.loss_ce'])
    losses['decode.loss_ce'].backward()
    assert model.decode_head.conv_seg.weight.grad.abs().sum() > 0

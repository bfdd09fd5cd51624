import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate

from epsam.datasets import DatasetFilesError, PatchFileError
from epsam.datasets.sam_mask_dataset import SamMaskDataset
from epsam.datasets.transforms import prompt_transforms  # noqa: F401  (registers them)
from epsam.registry import DATASETS, MODELS

SIZE = 64
TRAIN_PIPELINE = [
    dict(type='LoadPatchImage'),
    dict(type='LoadPatchAnnotations', binary=False),
    dict(type='RandomFlip', prob=0.5, direction=['horizontal', 'vertical']),
    dict(type='RandomRotate90', prob=0.75),
    dict(type='GenerateMaskPrompts', generator=dict(type='UniformPointPrompt', num_points=8)),
    dict(type='PackSamInputs'),
]


def _tree(root, files, masked=('a_1', 'b_1', 'c_1'), unmasked=('d_0', )):
    """64 px images in ``img/``; 0/1/255 masks in ``masks/`` for some of them."""
    for i, stem in enumerate(masked + unmasked):
        files.rgb(osp.join(root, 'img', f'{stem}.png'), seed=i, size=(SIZE, SIZE))
    for i, stem in enumerate(masked):
        mask = np.zeros((SIZE, SIZE), np.uint8)
        mask[8 + 4 * i:40, 10:50 - 4 * i] = 1
        mask[60:, :] = 255
        files.gray(osp.join(root, 'masks', f'{stem}.png'), mask)
    return root


def files_mask(path):
    return cv2.imread(path, cv2.IMREAD_UNCHANGED)


def test_lists_only_images_with_a_mask(tmp_path, files):
    root = _tree(str(tmp_path), files)
    ds = DATASETS.build(dict(type='SamMaskDataset', data_root=root, img_dir='img',
                             mask_dir='masks', pipeline=[]))
    assert isinstance(ds, SamMaskDataset)
    assert [osp.basename(ds.get_data_info(i)['img_path']) for i in range(len(ds))] == [
        'a_1.png', 'b_1.png', 'c_1.png']
    entry = ds.get_data_info(1)
    assert entry['seg_map_path'] == osp.join(root, 'masks', 'b_1.png')
    assert entry['num_classes'] == 2 and entry['binary_mask'] is False
    assert ds.metainfo['classes'] == ('background', 'foreground') and ds.ignore_index == 255

    camelyon = SamMaskDataset(img_dir=osp.join(root, 'img'), mask_dir=osp.join(root, 'masks'),
                              source_dataset='CamelyonPatchDataset', pipeline=[])
    assert camelyon.metainfo['classes'] == ('normal', 'tumor') and len(camelyon) == 3


def test_bad_folders_and_metainfo_are_refused(tmp_path, files):
    root = _tree(str(tmp_path), files)
    files.gray(osp.join(root, 'masks', 'orphan.png'), np.zeros((SIZE, SIZE), np.uint8))
    with pytest.raises(DatasetFilesError, match=r'orphan.png: pseudo-mask has no image'):
        SamMaskDataset(data_root=root, img_dir='img', mask_dir='masks')
    with pytest.raises(ValueError, match='needs both img_dir and mask_dir'):
        SamMaskDataset(data_root=root, img_dir='img')
    with pytest.raises(ValueError, match='masks are binary'):
        SamMaskDataset(data_root=root, img_dir='img', mask_dir='masks', lazy_init=True,
                       metainfo=dict(classes=('a', 'b', 'c'), palette=[[0, 0, 0]] * 3))


def test_non_binary_mask_is_reported_with_its_file(tmp_path, files):
    root = _tree(str(tmp_path), files, masked=('a_1', ), unmasked=())
    files.gray(osp.join(root, 'masks', 'a_1.png'), np.full((SIZE, SIZE), 2, np.uint8))
    ds = SamMaskDataset(data_root=root, img_dir='img', mask_dir='masks',
                        pipeline=TRAIN_PIPELINE)
    with pytest.raises(PatchFileError, match=r'a_1.png: mask holds values \[2\]'):
        ds[0]


def test_batches_train_sam_tuning_model(tmp_path, files):
    root = _tree(str(tmp_path), files)
    ds = SamMaskDataset(data_root=root, img_dir='img', mask_dir='masks',
                        pipeline=TRAIN_PIPELINE)
    np.random.seed(0)
    samples = [ds[i] for i in range(len(ds))]
    augmented = 0
    for sample in samples:
        data_sample = sample['data_samples']
        target = data_sample.gt_sem_seg.data[0]
        points = data_sample.prompt_points.long()
        assert data_sample.prompt_points.shape == (8, 2)
        assert (target[points[:, 1], points[:, 0]] == 1).all()  # inside the augmented mask
        on_disk = torch.from_numpy(files_mask(data_sample.seg_map_path))
        augmented += not torch.equal(target.to(torch.uint8), on_disk)
    assert augmented > 0  # the check above saw a flipped or rotated frame

    torch.manual_seed(0)
    model = MODELS.build(dict(type='SamTuningModel', sam=dict(variant='tiny')))
    model.train()
    data = model.data_preprocessor(pseudo_collate(samples), True)
    assert data['inputs'].shape == (3, 3, SIZE, SIZE)
    losses = model(**data, mode='loss')
    total = sum(losses.values())
    assert losses and all(name.startswith('loss_') for name in losses)
    assert torch.isfinite(total)
    total.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.sam.mask_decoder.parameters())

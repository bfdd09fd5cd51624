import os.path as osp

import cv2
import numpy as np
import pytest

from epsam.datasets import (CamelyonPatchDataset, DatasetFilesError, EmptySplitError,
                            PseudoLabelDataset, ScanReport, scan_dataset)


def _camelyon_cfg(root, split='val'):
    return dict(type='CamelyonPatchDataset', data_root=root,
                data_prefix=dict(img_path=f'{split}/image', seg_map_path=f'{split}/mask'))


def test_clean_dataset_scans_ok(tmp_path, trees):
    root = trees.camelyon(str(tmp_path))
    report = scan_dataset(_camelyon_cfg(root))
    assert isinstance(report, ScanReport)
    assert report.ok and report.problems == []
    assert (report.num_images, report.num_masks) == (3, 2)
    assert '3 image(s), 2 mask(s), 0 bad file(s)' in str(report)
    report.raise_if_bad()  # nothing to raise


def test_scan_reports_every_bad_file_at_once(tmp_path, trees, files):
    root = trees.camelyon(str(tmp_path))
    image_dir, mask_dir = osp.join(root, 'val/image'), osp.join(root, 'val/mask')
    # unparsable label
    files.rgb(osp.join(image_dir, 'tumor_004_9_9_x.png'))
    # truncated image
    data = open(osp.join(image_dir, 'normal_002_5_6_0.png'), 'rb').read()
    open(osp.join(image_dir, 'normal_003_1_1_0.png'), 'wb').write(data[:40])
    # grayscale image
    cv2.imwrite(osp.join(image_dir, 'normal_003_2_2_0.png'), np.zeros((32, 32), np.uint8))
    # mask with a non-binary value
    files.rgb(osp.join(image_dir, 'tumor_005_1_1_1.png'))
    bad_values = files.binary_mask()
    bad_values[0, 0] = 7
    files.gray(osp.join(mask_dir, 'tumor_005_1_1_1.png'), bad_values)
    # mask of the wrong size
    files.rgb(osp.join(image_dir, 'tumor_006_1_1_1.png'))
    files.gray(osp.join(mask_dir, 'tumor_006_1_1_1.png'), files.binary_mask(size=16))

    report = scan_dataset(_camelyon_cfg(root))
    assert not report.ok
    found = {osp.basename(p.path): p.problem for p in report.problems}
    assert set(found) == {'tumor_004_9_9_x.png', 'normal_003_1_1_0.png',
                          'normal_003_2_2_0.png', 'tumor_005_1_1_1.png', 'tumor_006_1_1_1.png'}
    assert 'label' in found['tumor_004_9_9_x.png']
    assert 'cannot be decoded' in found['normal_003_1_1_0.png']
    assert 'grayscale' in found['normal_003_2_2_0.png']
    assert '[7]' in found['tumor_005_1_1_1.png']
    assert '(16, 16)' in found['tumor_006_1_1_1.png']
    assert report.num_images == 7  # every listable image was read once
    text = str(report)
    assert '5 bad file(s)' in text and all(name in text for name in found)
    with pytest.raises(DatasetFilesError) as info:
        report.raise_if_bad()
    assert len(info.value.problems) == 5


def test_scan_accepts_built_datasets_and_dataloader_configs(tmp_path, trees, files):
    root = trees.camelyon(str(tmp_path))
    files.gray(osp.join(root, 'test/mask/tumor_001_12_34_1.png'), files.binary_mask(size=8))
    built = CamelyonPatchDataset(**{k: v for k, v in _camelyon_cfg(root, 'test').items()
                                    if k != 'type'})
    from_built = scan_dataset(built)
    from_loader = scan_dataset(dict(batch_size=1, dataset=_camelyon_cfg(root, 'test')))
    for report in (from_built, from_loader):
        assert [osp.basename(p.path) for p in report.problems] == ['tumor_001_12_34_1.png']


def test_scan_pseudo_label_dataset_checks_class_range(tmp_path, files):
    files.rgb(str(tmp_path / 'img' / 'a.png'))
    mask = np.full((32, 32), 255, np.uint8)
    mask[0, 0] = 3
    files.gray(str(tmp_path / 'pseudo' / 'a.png'), mask)
    ds = PseudoLabelDataset(data_root=str(tmp_path), source_dataset='CamelyonPatchDataset',
                            data_prefix=dict(img_path='img', seg_map_path='pseudo'))
    report = scan_dataset(ds)
    assert len(report.problems) == 1 and '[3]' in report.problems[0].problem


def test_scan_of_empty_split_raises(tmp_path):
    (tmp_path / 'val' / 'image').mkdir(parents=True)
    with pytest.raises(EmptySplitError) as info:
        scan_dataset(_camelyon_cfg(str(tmp_path)))
    assert osp.join(str(tmp_path), 'val/image') in str(info.value) and '.png' in str(info.value)

"""Paths left out of a dataset listing are reported with the reason, never dropped silently."""
import logging
import os
import os.path as osp

import pytest
from mmengine.logging import MMLogger

from epsam.datasets import (DatasetFilesError, EmptySplitError, NoPositivePatchError,
                            generate_camelyon_like, scan_dataset)
from epsam.registry import DATASETS


def _cfg(root, split='val', **kwargs):
    return dict(type='CamelyonPatchDataset', data_root=root,
                data_prefix=dict(img_path=f'{split}/image', seg_map_path=f'{split}/mask'),
                **kwargs)


class _Records(logging.Handler):

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def warnings_logged():
    logger = MMLogger.get_current_instance()
    handler = _Records()
    logger.addHandler(handler)
    yield handler.messages
    logger.removeHandler(handler)


def _add_odd_paths(root, files):
    """A dangling link, a folder named like an image, an upper-case suffix, a text file."""
    image_dir = osp.join(root, 'val', 'image')
    os.symlink(osp.join(root, 'gone.png'), osp.join(image_dir, 'tumor_007_1_1_1.png'))
    os.makedirs(osp.join(image_dir, 'tumor_008_1_1_1.png'))
    files.rgb(osp.join(image_dir, 'tumor_009_1_1_1.PNG'))
    open(osp.join(image_dir, 'notes.txt'), 'w').close()
    return image_dir


EXPECTED_REASONS = {
    'tumor_007_1_1_1.png': 'dangling symbolic link',
    'tumor_008_1_1_1.png': 'a folder named like a data file, not a file',
    'tumor_009_1_1_1.PNG': "suffix '.PNG' differs from '.png' only in case",
    'notes.txt': "does not end in '.png'",
}


def test_scan_lists_every_skipped_path_with_its_reason(tmp_path, trees, files,
                                                       warnings_logged):
    root = trees.camelyon(str(tmp_path))
    _add_odd_paths(root, files)
    report = scan_dataset(_cfg(root))
    found = {osp.basename(p.path): p.problem for p in report.skipped}
    assert set(found) == set(EXPECTED_REASONS)
    for name, reason in EXPECTED_REASONS.items():
        assert reason in found[name], found[name]
    assert report.num_images == 3 and report.ok  # the good patches, nothing unreadable
    text = str(report)
    assert '0 bad file(s), 4 skipped path(s)' in text
    assert all(name in text for name in EXPECTED_REASONS)
    # one warning for the folder, with a few examples, not one line per path
    image_warnings = [m for m in warnings_logged if 'val/image: 4 path(s) left out' in m]
    assert len(image_warnings) == 1 and '... and 1 more' in image_warnings[0]


def test_built_dataset_keeps_its_skipped_paths(tmp_path, trees, files):
    root = trees.camelyon(str(tmp_path))
    _add_odd_paths(root, files)
    dataset = DATASETS.build(_cfg(root))
    assert len(dataset) == 3
    assert {osp.basename(p.path) for p in dataset.skipped_files} == set(EXPECTED_REASONS)


def test_a_folder_of_skipped_paths_only_says_why_it_is_empty(tmp_path, files):
    image_dir = tmp_path / 'train' / 'image'
    files.rgb(str(image_dir / 'a_1.PNG'))
    cfg = _cfg(str(tmp_path), 'train')
    cfg['data_prefix'] = dict(img_path='train/image')
    with pytest.raises(EmptySplitError, match=r"1 other path\(s\) skipped: .*a_1\.PNG: "
                                              r"suffix '\.PNG' differs"):
        DATASETS.build(cfg)


def test_mask_without_image_is_reported(tmp_path, trees, files):
    root = trees.camelyon(str(tmp_path))
    orphan = osp.join(root, 'val', 'mask', 'tumor_050_1_1_1.png')
    files.gray(orphan, files.binary_mask())
    report = scan_dataset(_cfg(root))
    assert [(p.path, p.problem) for p in report.problems] == [
        (orphan, f"mask has no image in {osp.join(root, 'val/image')!r}")]
    with pytest.raises(DatasetFilesError, match='tumor_050_1_1_1.png: mask has no image'):
        DATASETS.build(_cfg(root))


def test_positive_image_without_required_mask_is_reported(tmp_path, trees):
    root = trees.camelyon(str(tmp_path))
    os.remove(osp.join(root, 'val', 'mask', 'tumor_001_12_34_1.png'))
    report = scan_dataset(_cfg(root, require_masks=True))
    assert [osp.basename(p.path) for p in report.problems] == ['tumor_001_12_34_1.png']
    assert 'no mask' in report.problems[0].problem


@pytest.mark.parametrize('mask_folder', ['empty', 'missing'])
def test_split_with_only_negative_patches_says_there_are_no_positives(tmp_path, mask_folder):
    generate_camelyon_like(str(tmp_path), num_train=2, num_val=3, num_test=2, patch_size=32,
                           positive_ratio=0.0)
    mask_dir = tmp_path / 'val' / 'mask'
    if mask_folder == 'missing' and mask_dir.exists():
        os.rmdir(mask_dir)
    else:
        mask_dir.mkdir(exist_ok=True)
    with pytest.raises(NoPositivePatchError) as info:
        DATASETS.build(_cfg(str(tmp_path), require_masks=True))
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'val' / 'image'}: no positive patch (all 3 "
                              'patches are labelled negative)')
    assert 'add positive patches with their masks' in message
    assert 'no files ending in' not in message

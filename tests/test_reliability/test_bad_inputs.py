"""Bad input files and splits: each gives an error naming the file and the problem,
or an explicit, counted skip; never a silent wrong result."""
import struct
import zlib

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from PIL import Image

import epsam  # noqa: F401
from epsam.datasets import scan_dataset
from epsam.fileio.errors import DatasetFilesError, EmptySplitError, PatchFileError
from epsam.fileio.patch_io import read_patch_image
from epsam.registry import DATASETS, TRANSFORMS

pytestmark = pytest.mark.faults

SIZE = 32


def rgb(seed: int = 0, size=(SIZE, SIZE)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)


def png_bytes(array: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode('.png', array)
    assert ok
    return buffer.tobytes()


def huge_png() -> bytes:
    """A valid 8x8 PNG whose header claims 100000 x 100000 pixels (a decompression bomb)."""
    data = bytearray(png_bytes(rgb(size=(8, 8))))
    data[16:24] = struct.pack('>II', 100_000, 100_000)
    data[29:33] = struct.pack('>I', zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return bytes(data)


def rgba_transparent() -> bytes:
    image = np.dstack([rgb(), np.full((SIZE, SIZE), 255, np.uint8)])
    image[:4, :4, 3] = 0
    return png_bytes(image)


#: name -> (file bytes, what the user must read in the error)
BAD_IMAGES = {
    'corrupt': (b'\x89PNG\r\n\x1a\n' + bytes(range(256)) * 4, 'cannot be decoded'),
    'truncated': (png_bytes(rgb())[:300], 'cannot be decoded'),
    'empty': (b'', 'file is empty (0 bytes)'),
    'grayscale': (png_bytes(rgb()[..., 0]), 'grayscale image; expected an RGB patch'),
    'rgba': (rgba_transparent(), 'RGBA image with transparent pixels (16 pixels'),
    '16bit': (png_bytes((rgb().astype(np.uint16) * 257)), '16-bit image (uint16)'),
    'huge': (huge_png(), 'image too large'),
}


@pytest.mark.parametrize('kind', sorted(BAD_IMAGES))
def test_bad_image_is_named_with_its_problem(tmp_path, kind):
    data, message = BAD_IMAGES[kind]
    path = tmp_path / f'{kind}_1.png'
    path.write_bytes(data)
    init_default_scope('epsam')
    loader = TRANSFORMS.build(dict(type='LoadPatchImage'))
    with pytest.raises(PatchFileError) as info:
        loader(dict(img_path=str(path)))
    assert str(info.value).startswith(f'{path}: ') and message in str(info.value)
    # Skipping was asked for: the loader returns None instead (mmengine picks another sample).
    assert TRANSFORMS.build(dict(type='LoadPatchImage', ignore_empty=True))(
        dict(img_path=str(path))) is None


def test_opaque_rgba_is_accepted_as_rgb(tmp_path):
    path = tmp_path / 'opaque.png'
    image = rgb()
    path.write_bytes(png_bytes(np.dstack([image, np.full((SIZE, SIZE), 255, np.uint8)])))
    np.testing.assert_array_equal(read_patch_image(str(path)), image)


def camelyon_tree(root, image_names, masks=None):
    """``train/image`` with random patches; ``masks``: name -> uint8 array for ``train/mask``."""
    (root / 'train' / 'image').mkdir(parents=True)
    (root / 'train' / 'mask').mkdir(parents=True)
    for i, name in enumerate(image_names):
        (root / 'train' / 'image' / name).write_bytes(png_bytes(rgb(i)))
    for name, mask in (masks or {}).items():
        cv2.imwrite(str(root / 'train' / 'mask' / name), mask)
    return dict(type='CamelyonPatchDataset', data_root=str(root),
                data_prefix=dict(img_path='train/image', seg_map_path='train/mask'),
                pipeline=[])


def test_scan_lists_and_counts_every_bad_file(tmp_path):
    good_mask = np.zeros((SIZE, SIZE), np.uint8)
    good_mask[8:16] = 255
    cfg = camelyon_tree(tmp_path, ['a_0.png', 'b_1.png', 'c_1.png', 'd_1.png'], masks={
        'b_1.png': good_mask,
        'c_1.png': np.zeros((SIZE // 2, SIZE), np.uint8),       # wrong size
        'd_1.png': np.full((SIZE, SIZE), 7, np.uint8),          # unknown class value
    })
    for kind, (data, _) in BAD_IMAGES.items():
        (tmp_path / 'train' / 'image' / f'bad_{kind}_0.png').write_bytes(data)
    (tmp_path / 'train' / 'image' / 'no-label.png').write_bytes(png_bytes(rgb()))
    init_default_scope('epsam')
    report = scan_dataset(cfg)
    problems = {p.path.split('/')[-1]: p.problem for p in report.problems}
    assert report.num_images == 4 + len(BAD_IMAGES) and len(report.problems) == 10
    assert all(f'bad_{kind}_0.png' in problems for kind in BAD_IMAGES)
    assert "found no '_'" in problems['no-label.png']
    assert 'mask size (H, W)=(16, 32) differs from image size (H, W)=(32, 32)' in \
        problems['c_1.png']
    assert 'binary mask holds values [7]' in problems['d_1.png']
    assert f'{len(report.problems)} bad file(s)' in str(report)
    with pytest.raises(DatasetFilesError, match='10 bad file'):
        report.raise_if_bad()


def test_unparseable_label_names_fail_the_dataset_build(tmp_path):
    cfg = camelyon_tree(tmp_path, ['a_0.png', 'b_x.png', 'c.png'])
    init_default_scope('epsam')
    with pytest.raises(DatasetFilesError) as info:
        DATASETS.build(cfg)
    message = str(info.value)
    assert message.startswith('2 bad file(s) in CamelyonPatchDataset')
    assert 'b_x.png' in message and 'c.png' in message and 'a_0.png' not in message


def test_masks_of_wrong_size_or_unknown_classes_fail_loading(tmp_path):
    (tmp_path / 'img.png').write_bytes(png_bytes(rgb()))
    cv2.imwrite(str(tmp_path / 'small.png'), np.zeros((SIZE, SIZE // 2), np.uint8))
    cv2.imwrite(str(tmp_path / 'classes.png'), np.full((SIZE, SIZE), 9, np.uint8))
    init_default_scope('epsam')
    load_image = TRANSFORMS.build(dict(type='LoadPatchImage'))
    load_mask = TRANSFORMS.build(dict(type='LoadPatchAnnotations', num_classes=5))
    results = load_image(dict(img_path=str(tmp_path / 'img.png'), seg_fields=[],
                              reduce_zero_label=False))
    with pytest.raises(PatchFileError, match=r'small\.png: mask size \(H, W\)=\(32, 16\)'):
        load_mask(dict(results, seg_map_path=str(tmp_path / 'small.png')))
    with pytest.raises(PatchFileError, match=r'classes\.png: mask holds values \[9\] outside '
                                             r'the 5 classes'):
        load_mask(dict(results, seg_map_path=str(tmp_path / 'classes.png')))


def test_empty_split_names_the_folder_and_suffix(tmp_path):
    cfg = camelyon_tree(tmp_path, [])
    init_default_scope('epsam')
    with pytest.raises(EmptySplitError, match=r"train/image: no files ending in '\.png' found"):
        DATASETS.build(cfg)
    cfg['data_prefix']['img_path'] = 'missing'
    with pytest.raises(EmptySplitError, match='folder does not exist'):
        DATASETS.build(cfg)


def test_only_positive_split_without_positives_says_so(tmp_path):
    cfg = camelyon_tree(tmp_path, ['a_0.png', 'b_0.png'])
    cfg['only_positive'] = True
    init_default_scope('epsam')
    with pytest.raises(EmptySplitError, match=r'no positive patch \(only_positive=True\)'):
        DATASETS.build(cfg)


def test_a_class_that_never_occurs_is_reported_as_absent_not_zero():
    from epsam.evaluation.metrics.wsss_iou import WSSSIoUMetric
    metric = WSSSIoUMetric(protocol='exclude_background', prefix='')
    metric.dataset_meta = dict(classes=('TUM', 'STR', 'LYM', 'NEC', 'BACK'),
                               background_index=4)
    gt = torch.tensor([[0, 0, 1, 1], [2, 2, 4, 4]])  # NEC (3) never occurs
    pred = gt.clone()
    pred[0, 0] = 1
    sample = dict(pred_sem_seg=dict(data=pred[None]), gt_sem_seg=dict(data=gt[None]))
    metric.process({}, [sample])
    result = metric.evaluate(1)
    assert np.isnan(result['IoU.NEC'])
    present = [result[f'IoU.{name}'] for name in ('TUM', 'STR', 'LYM')]
    assert result['mIoU'] == pytest.approx(np.mean(present))  # NEC left out, not counted as 0
    assert result['IoU.TUM'] == pytest.approx(50.0) and result['IoU.LYM'] == 100.0


def test_pseudo_labelling_counts_unreadable_items_and_retries_them(tmp_path):
    from epsam.fileio.cam_store import save_cam, save_label_png
    from epsam.fileio.items import items_from_cam_dir
    from epsam.models.sam import build_sam
    from epsam.pseudo_labels import PseudoLabelGenerator
    blob = np.zeros((SIZE, SIZE), np.float32)
    blob[8:20, 8:20] = 1
    for stem in ('a_1', 'b_1'):
        cv2.imwrite(str(tmp_path / f'{stem}.png'), rgb())
        save_cam(str(tmp_path / 'cams' / 'cams' / f'{stem}.npz'), blob[None], [0.9], ['tumor'],
                 str(tmp_path / f'{stem}.png'))
        save_label_png(str(tmp_path / 'cams' / 'masks' / f'{stem}.png'), (blob > 0).astype('u1'))
    (tmp_path / 'b_1.png').write_bytes(b'')  # an image lost after the CAM stage
    torch.manual_seed(0)
    generator = PseudoLabelGenerator(build_sam('tiny'), dict(type='ProbabilisticPointPrompt',
                                                             num_points=5),
                                     dict(type='KeepAllSelector'), progress=False)
    items = items_from_cam_dir(str(tmp_path), str(tmp_path / 'cams'))
    report = generator.run(items, str(tmp_path / 'out'))
    assert report.kept == 1 and len(report.errors) == 1
    stem, message = report.errors[0]
    assert stem == 'b_1' and 'b_1.png: file is empty (0 bytes)' in message
    assert not (tmp_path / 'out' / 'masks' / 'b_1.png').exists()
    (tmp_path / 'b_1.png').write_bytes(png_bytes(rgb(1)))
    again = generator.run(items, str(tmp_path / 'out'))
    assert again.skipped == 1 and again.kept == 1 and not again.errors  # only b_1 retried
    assert Image.open(tmp_path / 'out' / 'masks' / 'b_1.png').size == (SIZE, SIZE)

import os
import zipfile

import numpy as np
import pytest

import epsam  # noqa: F401
from epsam.fileio.atomic_io import atomic_write_bytes, atomic_write_json
from epsam.fileio.cam_store import CamFileError, load_cam, load_label_png, save_cam, save_label_png
from epsam.fileio.errors import PatchFileError


def _cam(num=2, size=(12, 16), seed=0):
    return np.random.default_rng(seed).random((num, *size))


def _files_in(folder):
    return sorted(name for _, _, names in os.walk(folder) for name in names)


def test_cam_round_trip_quantises_to_uint8(tmp_path):
    cam = _cam()
    cam[0, 0, 0], cam[1, 0, 0] = 0.0, 1.0
    path = str(tmp_path / 'cams' / 'a_1.npz')
    save_cam(path, cam, scores=[0.9, 0.2], cls_classes=('tumor', 'stroma'), img_path='img/a_1.png')
    record = load_cam(path, image_size=(12, 16))
    assert record.cam.shape == (2, 12, 16) and record.cam.dtype == np.float32
    assert np.abs(record.cam - cam).max() <= 0.5 / 255 + 1e-6
    assert record.cam[0, 0, 0] == 0.0 and record.cam[1, 0, 0] == 1.0
    np.testing.assert_allclose(record.scores, [0.9, 0.2], rtol=1e-6)
    assert record.cls_classes == ('tumor', 'stroma') and record.img_path == 'img/a_1.png'
    assert record.image_size == (12, 16) and record.num_classes == 2
    with np.load(path) as raw:  # the contract: a plain npz with a uint8 cam
        assert raw['cam'].dtype == np.uint8 and raw['cam'][1, 0, 0] == 255


def test_same_cam_gives_same_bytes_and_no_temp_files(tmp_path):
    paths = [str(tmp_path / f'{i}.npz') for i in range(2)]
    for path in paths:
        save_cam(path, _cam(), [0.5, 0.5], ['a', 'b'], 'x.png')
    with open(paths[0], 'rb') as one, open(paths[1], 'rb') as two:
        assert one.read() == two.read()
    assert _files_in(tmp_path) == ['0.npz', '1.npz']


@pytest.mark.parametrize('cam, scores, names, match', [
    (np.zeros((4, 4)), [0.5], ['a'], r'\(K, H, W\)'),
    (np.full((1, 4, 4), 1.5), [0.5], ['a'], r'\[0, 1\]'),
    (np.full((1, 4, 4), np.nan), [0.5], ['a'], 'NaN'),
    (np.zeros((2, 4, 4)), [0.5], ['a', 'b'], '2 channels but 1 scores'),
    (np.zeros((1, 4, 4), np.uint8), [0.5], ['a'], 'float'),
])
def test_save_cam_rejects_bad_input(tmp_path, cam, scores, names, match):
    with pytest.raises(ValueError, match=match):
        save_cam(str(tmp_path / 'c.npz'), cam, scores, names, 'x.png')
    assert _files_in(tmp_path) == []


def test_load_cam_errors_name_the_file(tmp_path):
    missing = str(tmp_path / 'none.npz')
    with pytest.raises(CamFileError, match='none.npz: CAM file does not exist'):
        load_cam(missing)

    corrupt = tmp_path / 'corrupt.npz'
    corrupt.write_bytes(b'PK\x03\x04 this is not a zip')
    with pytest.raises(CamFileError, match='corrupt.npz: cannot be read'):
        load_cam(str(corrupt))

    good = str(tmp_path / 'good.npz')
    save_cam(good, _cam(num=1), [0.7], ['tumor'], 'x.png')
    truncated = tmp_path / 'truncated.npz'
    truncated.write_bytes(open(good, 'rb').read()[:60])
    with pytest.raises(CamFileError, match='truncated.npz'):
        load_cam(str(truncated))

    with pytest.raises(CamFileError, match=r'good.npz: CAM size .*\(12, 16\).*\(16, 16\)'):
        load_cam(good, image_size=(16, 16))

    no_scores = str(tmp_path / 'no_scores.npz')
    np.savez_compressed(no_scores, cam=np.zeros((1, 4, 4), np.uint8),
                        cls_classes=np.array(['a']), img_path=np.array('x'))
    with pytest.raises(CamFileError, match=r"no_scores.npz: CAM file lacks \['scores'\]"):
        load_cam(no_scores)

    wrong_shape = str(tmp_path / 'wrong_shape.npz')
    np.savez_compressed(wrong_shape, cam=np.zeros((4, 4), np.uint8), scores=np.zeros(1),
                        cls_classes=np.array(['a']), img_path=np.array('x'))
    with pytest.raises(CamFileError, match=r'wrong_shape.npz: "cam" must be uint8 \(K, H, W\)'):
        load_cam(wrong_shape)

    too_few_scores = str(tmp_path / 'scores.npz')
    np.savez_compressed(too_few_scores, cam=np.zeros((2, 4, 4), np.uint8), scores=np.zeros(1),
                        cls_classes=np.array(['a', 'b']), img_path=np.array('x'))
    with pytest.raises(CamFileError, match=r'"scores" must be float \(2,\)'):
        load_cam(too_few_scores)
    assert issubclass(CamFileError, PatchFileError)


def test_label_png_round_trip_and_checks(tmp_path):
    mask = np.zeros((10, 14), np.uint8)
    mask[2:6, 3:9] = 1
    mask[0, :] = 255
    path = str(tmp_path / 'masks' / 'a.png')
    save_label_png(path, mask)
    np.testing.assert_array_equal(load_label_png(path, num_classes=2), mask)
    save_label_png(path, mask.astype(bool))  # bools become 0/1
    np.testing.assert_array_equal(load_label_png(path), (mask > 0).astype(np.uint8))
    with pytest.raises(PatchFileError, match=r'a.png: mask size .*\(10, 14\).*\(14, 10\)'):
        load_label_png(path, image_size=(14, 10))
    save_label_png(path, np.full((4, 4), 3, np.uint8))
    with pytest.raises(PatchFileError, match='a.png: mask holds values \\[3\\]'):
        load_label_png(path, num_classes=2)
    with pytest.raises(PatchFileError, match='missing.png: file does not exist'):
        load_label_png(str(tmp_path / 'missing.png'))
    with pytest.raises(ValueError, match='fit in uint8'):
        save_label_png(path, np.full((4, 4), 300))
    with pytest.raises(ValueError, match=r'shape \(H, W\)'):
        save_label_png(path, np.zeros((4, 4, 3), np.uint8))
    assert _files_in(tmp_path) == ['a.png']


def test_atomic_write_leaves_old_file_and_no_temp_on_failure(tmp_path, monkeypatch):
    path = str(tmp_path / 'sub' / 'f.json')
    atomic_write_json(path, dict(b=1, a=2))
    assert open(path).read() == '{\n  "a": 2,\n  "b": 1\n}\n'

    def broken_replace(src, dst):
        raise OSError('disk full')

    monkeypatch.setattr(os, 'replace', broken_replace)
    with pytest.raises(OSError, match='disk full'):
        atomic_write_bytes(path, b'new content')
    monkeypatch.undo()
    assert open(path).read().startswith('{') and _files_in(tmp_path) == ['f.json']


def test_npz_members_carry_a_fixed_date(tmp_path):
    path = str(tmp_path / 'c.npz')
    save_cam(path, _cam(num=1), [0.1], ['a'], 'x.png')
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ['cam.npy', 'cls_classes.npy', 'img_path.npy',
                                              'scores.npy']
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_DEFLATED}

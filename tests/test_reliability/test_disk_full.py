"""A disk that fills up while outputs are written (``write`` fails with ENOSPC).

:class:`FullDisk` replaces ``os.fdopen`` (how epsam's atomic writers open
their temporary files) with files that accept a byte budget and then write a
partial chunk and raise ``OSError(ENOSPC)``, as a real full disk does. Each
writer must name the file, leave no partial file under a final name, and a
rerun once there is space again must finish the job.
"""
import errno
import importlib.util
import os
import warnings

import numpy as np
import pytest
import torch
from mmengine.config import Config

import epsam  # noqa: F401
from epsam.datasets.synthetic import generate_camelyon_like
from epsam.registry import MODELS
from tests.conftest import REPO_ROOT

from .conftest import assert_no_partial_files, assert_same_tree, count_files, tree_files

pytestmark = pytest.mark.faults

CAM_CONFIG = REPO_ROOT / 'configs' / 'adl_cam' / \
    'adl-cam_r18tiny-hf_1xb16-15e_synthetic-camelyon-128x128.py'


class _LimitedFile:
    def __init__(self, stream, disk: 'FullDisk') -> None:
        self._stream, self._disk = stream, disk

    def write(self, data) -> int:
        data = bytes(data)
        room = self._disk.budget
        if len(data) > room:
            self._stream.write(data[:room])
            self._disk.budget = 0
            self._disk.failures += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._disk.budget -= len(data)
        return self._stream.write(data)

    def __getattr__(self, name):
        return getattr(self._stream, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._stream.close()


class FullDisk:
    """``os.fdopen`` whose writable files share ``budget`` bytes of free space."""

    def __init__(self, monkeypatch, budget: int) -> None:
        self.budget, self.failures = budget, 0
        real = os.fdopen

        def fdopen(fd, mode='r', *args, **kwargs):
            stream = real(fd, mode, *args, **kwargs)
            return _LimitedFile(stream, self) if 'w' in mode else stream

        monkeypatch.setattr(os, 'fdopen', fdopen)


@pytest.fixture(scope='module')
def cam_inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp('disk_full')
    generate_camelyon_like(str(root / 'data'), num_train=8, num_val=2, num_test=2,
                           patch_size=64, seed=5)
    torch.manual_seed(0)
    state = MODELS.build(Config.fromfile(str(CAM_CONFIG)).model).state_dict()
    state['head.fc.weight'] = state['head.fc.weight'].abs()
    torch.save(dict(state_dict=state), root / 'classifier.pth')
    spec = importlib.util.spec_from_file_location('gen_cams', REPO_ROOT / 'tools' /
                                                  'generate_cams.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)

    def run(out):
        return tool.main([str(CAM_CONFIG), str(root / 'classifier.pth'), '--out', str(out),
                          '--batch-size', '1', '--device', 'cpu', '--cfg-options',
                          f'train_dataloader.dataset.data_root={root / "data"}',
                          f'test_dataloader.dataset.data_root={root / "data"}'])

    run(root / 'reference')
    return root, run


def test_cam_tool_on_a_full_disk_names_the_file_and_resumes(cam_inputs, tmp_path, monkeypatch):
    root, run = cam_inputs
    out = tmp_path / 'cams'
    with monkeypatch.context() as patch:
        disk = FullDisk(patch, budget=12_000)  # room for a few items, then full
        with pytest.raises(SystemExit) as info:
            run(out)
    message = str(info.value)
    assert message.startswith('error: cannot write the outputs: [Errno 28] No space left on '
                              f"device: '{out}/")
    assert disk.failures == 1
    assert 0 < count_files(out / 'records', '.json') < count_files(root / 'reference' /
                                                                   'records', '.json')
    assert_no_partial_files(out, allow_temp=False)  # the partial temporary file was removed
    assert not (out / 'summary.json').exists()
    run(out)  # space again
    assert_same_tree(root / 'reference', out)


def test_pseudo_label_folder_on_a_full_disk(tmp_path, monkeypatch):
    from epsam.pseudo_labels.writer import KEPT, PseudoLabelFolder
    folder = PseudoLabelFolder(str(tmp_path))
    record = dict(stem='a_1', status=KEPT, keep=True, mask='masks/a_1.png')
    with monkeypatch.context() as patch:
        FullDisk(patch, budget=10)
        with pytest.raises(OSError, match=r"No space left on device: '.*a_1\.(png|json)'"):
            folder.write(record, np.ones((16, 16), bool))
    assert tree_files(tmp_path) == {} and not folder.is_done('a_1')
    folder.write(record, np.ones((16, 16), bool))
    assert folder.is_done('a_1') and assert_no_partial_files(tmp_path, allow_temp=False) == 2


def test_wsi_tile_cache_on_a_full_disk(tmp_path, monkeypatch):
    from epsam.wsi import TileCache
    from epsam.wsi.tiling import Tile
    cache = TileCache(str(tmp_path), dict(stride=64))
    tile = Tile(x=64, y=128, tissue_fraction=1.0)
    with monkeypatch.context() as patch:
        FullDisk(patch, budget=64)
        with pytest.raises(OSError, match=f"No space left on device: '{cache.path(tile)}'"):
            cache.save(tile, np.ones((32, 32), np.float32))
    assert not cache.has(tile) and tree_files(tmp_path) == {}


def test_embedding_cache_on_a_full_disk_warns_counts_and_still_answers(tmp_path, monkeypatch):
    from epsam.models.sam import SamEmbeddingCache, build_sam
    torch.manual_seed(0)
    sam = build_sam('tiny')
    cache = SamEmbeddingCache(tmp_path, sam.image_encoder, encoder_tag='tiny')
    image = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
    with monkeypatch.context() as patch:
        FullDisk(patch, budget=100)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            embedding = cache.get_or_compute([image])
    assert any('cannot write' in str(w.message) and 'No space left' in str(w.message)
               for w in caught)
    assert cache.stats()['write_errors'] == 1 and cache.stats()['entries_written'] == 0
    assert assert_no_partial_files(tmp_path, allow_temp=False) == 0
    again = SamEmbeddingCache(tmp_path, sam.image_encoder, encoder_tag='tiny')
    assert torch.equal(again.get_or_compute([image]), embedding)
    assert again.stats()['misses'] == 1 and len(list(tmp_path.glob('*/*/*.emb'))) == 1

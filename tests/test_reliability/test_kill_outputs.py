"""SIGKILL at random points, rerun: outputs byte-identical to an uninterrupted run.

Covers ``tools/generate_cams.py``, the pseudo-label generator, the SAM
embedding cache and ``tools/wsi/infer.py``. Each test kills the process
three times (when a random number of items is finished, plus a random
delay of up to 30 ms so kills also hit half-written files), checks that no
partial file is visible under its final name, reruns to completion, checks
that finished items were neither recomputed nor rewritten (reported counts
and modification times), and compares every file with an uninterrupted run.
"""
import importlib.util
import json
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

import epsam  # noqa: F401
from epsam.datasets.synthetic import generate_camelyon_like
from epsam.registry import MODELS
from tests.conftest import REPO_ROOT

from .conftest import (DRIVERS, assert_no_partial_files, assert_same_tree, count_files, kill_goals,
                       kill_when, mtimes, run_to_end)

pytestmark = [pytest.mark.faults, pytest.mark.slow]

CAM_TOOL = REPO_ROOT / 'tools' / 'generate_cams.py'
WSI_TOOL = REPO_ROOT / 'tools' / 'wsi' / 'infer.py'
CAM_CONFIG = REPO_ROOT / 'configs' / 'adl_cam' / \
    'adl-cam_r18tiny-hf_1xb16-15e_synthetic-camelyon-128x128.py'
WSI_CONFIG = REPO_ROOT / 'configs' / '_base_' / 'models' / 'adl_resnet18_cam_tiny.py'
KILLS = 3
#: Seconds a killed tool pauses after each finished item (see ``kill_repeatedly``).
PACE_S = 0.02
#: The call that marks a finished CAM or pseudo-label item.
RECORD_WRITTEN = 'epsam.fileio.item_folder:ItemFolder.write_record'


def load_tool(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem + '_tool', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def project(tmp_path_factory):
    """Synthetic patches, a classifier and a tiny-SAM checkpoint, and reference CAMs."""
    from epsam.models.sam import build_sam
    root = tmp_path_factory.mktemp('faults')
    data = root / 'data'
    generate_camelyon_like(str(data), num_train=24, num_val=2, num_test=2, patch_size=64,
                           seed=3)
    torch.manual_seed(0)
    classifier = root / 'classifier.pth'
    state = MODELS.build(Config.fromfile(str(CAM_CONFIG)).model).state_dict()
    state['head.fc.weight'] = state['head.fc.weight'].abs()  # CAMs with a positive part
    torch.save(dict(state_dict=state), classifier)
    torch.manual_seed(0)
    sam = root / 'sam_tiny.pth'
    torch.save(build_sam('tiny').state_dict(), sam)
    cam_ref = root / 'cams_reference'
    load_tool(CAM_TOOL).main(cam_args(data, classifier, cam_ref))
    return dict(root=root, data=data, classifier=classifier, sam=sam, cam_ref=cam_ref)


def cam_args(data, checkpoint, out):
    return [str(CAM_CONFIG), str(checkpoint), '--out', str(out), '--split', 'train',
            '--batch-size', '1', '--device', 'cpu', '--cfg-options',
            f'train_dataloader.dataset.data_root={data}',
            f'test_dataloader.dataset.data_root={data}']


def kill_repeatedly(args, folder: Path, suffix: str, total: int, rng, log: Path,
                    item_done: str = RECORD_WRITTEN) -> dict:
    """Kill ``python *args`` at KILLS increasing counts of ``folder/*suffix``; check files.

    The script runs paced (``drivers/paced.py``): it pauses PACE_S after each
    ``item_done`` call, so at most two more items finish between the poll that
    sees the kill point and the signal, and the kill lands inside the run on
    any machine.
    """
    paced = [DRIVERS / 'paced.py', PACE_S, item_done, *args]
    for goal in kill_goals(rng, total, KILLS, lambda: count_files(folder, suffix)):
        kill_when(paced, lambda: count_files(folder, suffix) >= goal, rng, log)
        assert_no_partial_files(folder.parent)
    finished = mtimes(folder, suffix)
    assert 0 < len(finished) < total, 'the kills left nothing (or everything) to resume'
    return finished


def test_cam_generation_killed_and_rerun(project, tmp_path, fault_rng):
    out, log = tmp_path / 'cams', tmp_path / 'kills.log'
    positives = count_files(project['cam_ref'] / 'records', '.json')
    summary = json.loads((project['cam_ref'] / 'summary.json').read_text())
    assert summary['masked'] == positives and summary['empty_cams'] < positives
    args = [CAM_TOOL, *cam_args(project['data'], project['classifier'], out)]
    finished = kill_repeatedly(args, out / 'records', '.json', positives, fault_rng, log)
    # An item is finished once its record exists (a CAM written just before a kill,
    # without its record, is redone).
    cams_before = {name: mtime for name, mtime in mtimes(out / 'cams', '.npz').items()
                   if name[:-len('.npz')] + '.json' in finished}

    rerun = run_to_end(args)
    assert f'{len(finished)} already done, {positives - len(finished)} masked' in rerun.stdout
    assert {k: v for k, v in mtimes(out / 'records', '.json').items() if k in finished} \
        == finished
    assert {k: v for k, v in mtimes(out / 'cams', '.npz').items() if k in cams_before} \
        == cams_before
    assert assert_no_partial_files(out) > 2 * positives
    assert assert_same_tree(project['cam_ref'], out) > 2 * positives


def pseudo_label_args(project, out):
    return [DRIVERS / 'pseudo_labels.py', project['sam'], project['data'] / 'train' / 'image',
            project['cam_ref'], out]


def test_pseudo_labelling_killed_and_rerun(project, tmp_path, fault_rng):
    from .drivers import pseudo_labels
    reference, out, log = tmp_path / 'reference', tmp_path / 'killed', tmp_path / 'kills.log'
    first = pseudo_labels.run(*pseudo_label_args(project, reference)[1:])
    total = first['items']
    assert first['kept'] and first['images_encoded'] == total  # every item reached SAM
    finished = kill_repeatedly(pseudo_label_args(project, out), out / 'records', '.json',
                               total, fault_rng, log)

    rerun = json.loads(run_to_end(pseudo_label_args(project, out)).stdout.split('REPORT ')[-1])
    assert rerun['skipped'] == len(finished)
    assert rerun['images_encoded'] == total - len(finished)  # batch size 1: nothing redone
    assert {k: v for k, v in mtimes(out / 'records', '.json').items() if k in finished} \
        == finished
    assert_no_partial_files(out)
    assert assert_same_tree(reference, out) > total


def test_embedding_cache_killed_and_rerun(project, tmp_path, fault_rng):
    images = project['data'] / 'train' / 'image'
    total = count_files(images, '.png')
    reference, cache, log = tmp_path / 'reference', tmp_path / 'cache', tmp_path / 'kills.log'
    from .drivers import embedding_cache
    assert embedding_cache.run(project['sam'], images, reference)['encoder_passes'] == total
    args = [DRIVERS / 'embedding_cache.py', project['sam'], images, cache]

    def entries():
        return sorted(cache.glob('*/*/*.emb'))

    for goal in kill_goals(fault_rng, total, KILLS, lambda: len(entries())):
        kill_when(args, lambda: len(entries()) >= goal, fault_rng, log)
        assert_no_partial_files(cache)
    done = {path: path.stat().st_mtime_ns for path in entries()}
    assert 0 < len(done) < total

    stats = json.loads(run_to_end(args).stdout.split('STATS ')[-1])
    assert stats['disk_hits'] == len(done) and stats['corrupt_entries'] == 0
    assert stats['encoder_passes'] == total - len(done)
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in done.items())
    assert_no_partial_files(cache)
    assert assert_same_tree(reference, cache) == total


def _summary_without_timing(rel: str, data: bytes) -> bytes:
    if not rel.endswith('_summary.json'):
        return data
    summary = json.loads(data)
    for key in ('seconds', 'tiles_predicted_this_run'):
        summary.pop(key)
    return json.dumps(summary, sort_keys=True).encode()


def test_wsi_inference_killed_and_rerun(project, tmp_path, fault_rng):
    pytest.importorskip('tifffile')
    pytest.importorskip('tiffslide')
    from epsam.wsi.synthetic import synthetic_slide_image, write_pyramidal_slide
    slide = tmp_path / 'slide_a.tif'
    write_pyramidal_slide(str(slide), synthetic_slide_image((1024, 1024), (128, 128, 768, 640),
                                                            (256, 256, 256, 128)))

    def args(out):
        return [WSI_TOOL, WSI_CONFIG, project['classifier'], slide, '--out', out,
                '--level', '0', '--tile-size', '64', '--batch-size', '4',
                '--device', 'cpu', '--backend', 'tiffslide', '--no-progress']

    reference, out, log = tmp_path / 'reference', tmp_path / 'killed', tmp_path / 'kills.log'
    assert load_tool(WSI_TOOL).main([str(a) for a in args(reference)[1:]]) == 0
    total = json.loads((reference / 'slide_a_summary.json').read_text())['tiles']
    finished = kill_repeatedly(args(out), out / 'tiles' / 'slide_a', '.npy', total, fault_rng,
                               log, item_done='epsam.wsi.inference:TileCache.save')

    run_to_end(args(out))
    summary = json.loads((out / 'slide_a_summary.json').read_text())
    assert summary['tiles_predicted_this_run'] == total - len(finished)
    assert {k: v for k, v in mtimes(out / 'tiles' / 'slide_a', '.npy').items()
            if k in finished} == finished
    assert_no_partial_files(out)
    assert assert_same_tree(reference, out, normalise=_summary_without_timing) > total

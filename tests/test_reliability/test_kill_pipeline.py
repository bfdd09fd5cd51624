"""tools/run_pipeline.py killed inside random stages, rerun; and run twice for determinism.

The reference is one uninterrupted run of ``configs/pipeline_tiny.py`` in a
subprocess. The killed run is SIGKILLed twice, each time at a random moment
inside a randomly drawn stage, and rerun to the end: it must skip the
stages finished before each kill, leave their files untouched, and end with
the same CAMs, masks, records, embeddings, pseudo-labels, weights and metrics
as the reference. A second uninterrupted run, in this process, must match
the reference bit for bit too (same seed, data and machine).
"""
import json
import os
import re
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from epsam.datasets.synthetic import generate_camelyon_like
from tests.conftest import REPO_ROOT

from .conftest import HERE, assert_no_partial_files, assert_same_tree, kill_when, run_to_end

pytestmark = [pytest.mark.faults, pytest.mark.slow]

TOOL = REPO_ROOT / 'tools' / 'run_pipeline.py'
CONFIG = HERE / 'configs' / 'pipeline_tiny.py'
STAGES = ('step1_classifier', 'step2_cams', 'step4_sam_tuning_iter0',
          'step5_pseudo_labels_iter1', 'step6_sam_tuning_iter1', 'step7_evaluation')
#: Outputs compared byte for byte (training logs, timings and checkpoints' metadata
#: hold times; checkpoints are compared tensor by tensor).
DATA_SUFFIXES = ('.npz', '.png', '.emb', '.json', '.jsonl')
SKIP = ('stage_done.json', 'vis_data', 'scalars.json', '.log', 'grid_', 'sam_tuning_config')
TIMING_KEYS = re.compile(r'seconds|time|memory')


def pipeline_args(data_root, work_dir):
    return [TOOL, CONFIG, '--work-dir', work_dir, '--cfg-options', f'data_root={data_root}']


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    root = tmp_path_factory.mktemp('pipeline')
    data = root / 'data'
    generate_camelyon_like(str(data), num_train=8, num_val=2, num_test=4, patch_size=64, seed=1)
    run_to_end(pipeline_args(data, root / 'reference'))
    return data, root / 'reference'


def _drop_timing(value):
    if isinstance(value, dict):
        return {k: _drop_timing(v) for k, v in value.items() if not TIMING_KEYS.search(k)}
    if isinstance(value, list):
        return [_drop_timing(v) for v in value]
    return value


def normaliser(*work_dirs):
    def normalise(rel: str, data: bytes) -> bytes:
        if not rel.endswith(('.json', '.jsonl')):
            return data
        text = data.decode()
        for work_dir in work_dirs:
            text = text.replace(str(work_dir), '<WORK>')
        rows = [json.loads(line) for line in text.splitlines() if line.strip()] \
            if rel.endswith('.jsonl') else [json.loads(text)]
        return json.dumps(_drop_timing(rows), sort_keys=True).encode()
    return normalise


def data_files(folder: Path) -> list:
    return [p for p in folder.rglob('*') if p.is_file() and p.suffix in DATA_SUFFIXES
            and not any(s in str(p) for s in SKIP)]


def assert_same_outputs(reference: Path, other: Path) -> None:
    for stage in STAGES[1:2] + STAGES[3:4] + ('embedding_cache',):
        assert_same_tree(reference / stage, other / stage, skip=SKIP,
                         normalise=normaliser(reference, other))
    ref_metrics = json.loads((reference / 'final_metrics.json').read_text())
    assert _drop_timing(ref_metrics) == \
        _drop_timing(json.loads((other / 'final_metrics.json').read_text()))
    for stage in STAGES[0:1] + STAGES[2:3] + STAGES[4:5]:
        first = json.loads((reference / stage / 'stage_done.json').read_text())['checkpoint']
        second = json.loads((other / stage / 'stage_done.json').read_text())['checkpoint']
        assert Path(first).name == Path(second).name
        a = torch.load(first, weights_only=True)['state_dict']
        b = torch.load(second, weights_only=True)['state_dict']
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), stage


def test_pipeline_killed_in_random_stages_resumes(reference, tmp_path, fault_rng):
    data, ref_dir = reference
    work = tmp_path / 'killed'
    log = work / 'pipeline.log'
    targets = sorted(fault_rng.sample(range(len(STAGES) - 1), 2))
    for target in targets:
        stage = STAGES[target]

        def in_stage():
            return log.is_file() and f'{stage}: running' in log.read_text()

        # A random moment in the first half of the stage (as long as it took in the reference).
        seconds = json.loads((ref_dir / stage / 'stage_done.json').read_text())['seconds']
        kill_when(pipeline_args(data, work), in_stage, fault_rng, tmp_path / 'kills.log',
                  max_delay_s=seconds / 2)
        assert not (work / stage / 'stage_done.json').exists(), f'{stage} finished too soon'
        assert_no_partial_files(work, suffixes=('.npz', '.png', '.npy', '.emb', '.pth'))
    # Files of finished stages and cache entries must survive the rerun untouched.
    done = [work / stage for stage in STAGES if (work / stage / 'stage_done.json').exists()]
    finished = {p: p.stat().st_mtime_ns for folder in done + [work / 'embedding_cache']
                for p in data_files(folder)}
    assert finished

    run_to_end(pipeline_args(data, work))
    text = log.read_text()
    for index, stage in enumerate(STAGES):
        runs = text.count(f'{stage}: running')
        assert runs == 1 + sum(t == index for t in targets), (stage, runs)
    assert text.count(': done earlier, skipped') >= targets[0] + targets[1]
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in finished.items())
    assert_same_outputs(ref_dir, work)


def test_pipeline_is_deterministic_on_cpu(reference, tmp_path):
    from epsam.pipeline import EPSAMPipeline
    data, ref_dir = reference
    cfg = Config.fromfile(str(CONFIG))
    cfg.data_root = str(data)
    for section in (cfg.classifier, cfg.sam_tuning):
        section.config = str(REPO_ROOT / section.config)
    EPSAMPipeline(cfg, str(tmp_path / 'again')).run()
    assert_same_outputs(ref_dir, tmp_path / 'again')
    assert len(os.listdir(tmp_path / 'again' / 'step5_pseudo_labels_iter1' / 'masks')) > 0

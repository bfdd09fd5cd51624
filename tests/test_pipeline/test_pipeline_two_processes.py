"""The whole pipeline on 2 CPU ranks (torchrun, gloo) against one process.

The 2-process run resumes a copy of the 1-process work dir from which the
sharded stages (CAMs, pseudo-labels, evaluation) and the last tuning were
removed, as a killed job rerun with the same command: the classifier and
the iteration-0 SAM are kept, so the sharded stages read exactly the inputs
the 1-process run had, and their outputs must be identical, bit for bit.
The iteration-1 tuning runs under DDP (2 ranks x half batches), which is
not bitwise the 1-process training (docs/distributed.md), so its
evaluation row is only checked to exist.
"""
import filecmp
import json
import os
import shutil
import subprocess

import pytest
from mmengine.config import Config

from epsam.datasets.synthetic import generate_camelyon_like
from epsam.pipeline import EPSAMPipeline
from tests.conftest import REPO_ROOT

from .test_pipeline_end_to_end import tiny_pipeline_config

SHARDED = ('step2_cams', 'step5_pseudo_labels_iter1', 'step7_evaluation')
SCORES = ('dice', 'iou', 'whole_patch_masks', 'mean_foreground')


def same_files(first, second, pattern: str) -> int:
    """Assert both folders hold the same ``pattern`` files with the same bytes; count them."""
    names = sorted(p.relative_to(first) for p in first.glob(pattern))
    assert names == sorted(p.relative_to(second) for p in second.glob(pattern))
    for name in names:
        assert filecmp.cmp(first / name, second / name, shallow=False), name
    return len(names)


def evaluation_rows(work_dir):
    record = json.loads((work_dir / 'step7_evaluation' / 'stage_done.json').read_text())
    return [dict(method=row['method'], **{key: row['metrics'][key] for key in SCORES})
            for row in record['rows']]


@pytest.mark.slow
def test_two_process_pipeline_equals_one_process(tmp_path):
    data_root = tmp_path / 'data'
    generate_camelyon_like(str(data_root), num_train=16, num_val=4, num_test=8,
                           patch_size=64, seed=1)
    config = tmp_path / 'pipeline.py'
    cfg = tiny_pipeline_config(data_root)
    cfg.pseudo_labels.selector.threshold = 0.0  # keep every mask: iteration 1 trains
    # Batches of 2 (one run as the other): each rank gets several batches of every stage.
    cfg.classifier.cfg_options['cam_cfg.batch_size'] = 2
    cfg.pseudo_labels.batch_size = cfg.evaluation.batch_size = 2
    cfg.dump(str(config))
    single = tmp_path / 'single'
    EPSAMPipeline(Config.fromfile(str(config)), str(single)).run()

    double = tmp_path / 'double'
    shutil.copytree(single, double, ignore=shutil.ignore_patterns('.epsam.lock'))
    for stage in (*SHARDED, 'step6_sam_tuning_iter1', 'embedding_cache'):
        shutil.rmtree(double / stage)
    env = dict(os.environ, OMP_NUM_THREADS='1', PORT=str(29800 + os.getpid() % 150))
    proc = subprocess.run(['bash', 'tools/dist_pipeline.sh', str(config), '2',
                           '--work-dir', str(double), '--device', 'cpu'],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    # The iteration-1 tuning ran under DDP (its environment goes to its log file).
    training_log, = (double / 'step6_sam_tuning_iter1').glob('*/*.log')
    assert 'Distributed training: True' in training_log.read_text()
    pipeline_log = (double / 'pipeline.log').read_text()
    for stage in ('step1_classifier', 'step4_sam_tuning_iter0'):
        assert f'{stage}: done earlier, skipped' in pipeline_log

    cams = single / 'step2_cams'
    counts = [{split: {k: v for k, v in record.items() if k != 'out_dir'}
               for split, record in json.loads((work / 'step2_cams' / 'stage_done.json')
                                               .read_text())['splits'].items()}
              for work in (single, double)]
    assert counts[1] == counts[0]  # the ranks' counts summed
    assert same_files(cams, double / 'step2_cams', '*/cams/*.npz') > 0
    assert same_files(cams, double / 'step2_cams', '*/masks/*.png') > 0
    pseudo = 'step5_pseudo_labels_iter1'
    same_files(single / pseudo, double / pseudo, 'masks/*.png')
    assert same_files(single / pseudo, double / pseudo, 'records.jsonl') == 1
    first, second = evaluation_rows(single), evaluation_rows(double)
    # whole patch, CAM mask, CAM at Otsu, untuned SAM, iteration 0: identical numbers
    assert second[:5] == first[:5]
    assert [row['method'] for row in second] == [row['method'] for row in first]
    assert (double / 'step7_evaluation' / 'results.md').is_file()
    assert not (double / '.epsam.lock').exists()

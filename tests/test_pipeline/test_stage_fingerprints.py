"""Stage fingerprints: a finished work dir is never reused with other settings or data."""
import json
import os
import shutil

import pytest

from epsam.datasets.synthetic import generate_bcss_like, generate_camelyon_like
from epsam.pipeline import EPSAMPipeline, StaleStageError, UnknownStageError
from epsam.pipeline.context import PipelineContext
from epsam.pipeline.fingerprints import Fingerprint, describe_changes
from epsam.pipeline.restart import restart_from
from epsam.pipeline.stage_plan import plan_stages, stage_order, stage_sequence

from .test_config_check import load_run_pipeline
from .test_multiclass_pipeline import tiny_multiclass_config
from .test_pipeline_end_to_end import tiny_pipeline_config

STAGES = ['step1_classifier', 'step2_cams', 'step4_sam_tuning_iter0',
          'step5_pseudo_labels_iter1', 'step6_sam_tuning_iter1', 'step7_evaluation']
RESTART_HINT = 'to redo it and every later stage, or use another --work-dir'


# --- the pieces ----------------------------------------------------------------------
def test_describe_changes_names_settings_files_and_upstream_stages():
    old = Fingerprint({'data_root': 'data/a', 'sam.variant': 'tiny', 'cams': 'sha256:aaa',
                       'files:train/image': {'a.png': 1, 'b.png': 2, 'c.png': 3},
                       'files:test/image': None, 'upstream:step1_classifier': 'sha256:1'})
    new = Fingerprint({'data_root': 'data/b', 'sam.variant': 'tiny', 'cams': 'sha256:bbb',
                       'seed': 1, 'files:train/image': {'a.png': 1, 'b.png': 5, 'd.png': 3},
                       'files:test/image': {'x.png': 1},
                       'upstream:step1_classifier': 'sha256:2'})
    assert describe_changes(old, new) == [
        'data_root (data/a -> data/b)', 'cams (changed)', 'seed (added)',
        '3 files of train/image differ', 'test/image (missing -> 1 files)',
        'upstream step1_classifier changed']
    assert describe_changes(old, old) == []


def test_stage_names_sort_in_run_order():
    names = stage_sequence(2)
    assert names == ['step1_classifier', 'step2_cams', 'step4_sam_tuning_iter0',
                     'step5_pseudo_labels_iter1', 'step6_sam_tuning_iter1',
                     'step5_pseudo_labels_iter2', 'step6_sam_tuning_iter2',
                     'step7_evaluation']
    assert sorted(reversed(names), key=stage_order) == names
    assert stage_sequence(3, use_sam=False) == ['step1_classifier', 'step2_cams',
                                                'step7_evaluation']
    assert stage_order('step2_cams.old-20250101-000000') is None
    assert stage_order('embedding_cache') is None


def test_restart_moves_the_stage_and_every_later_one_aside(tmp_path):
    for name in ['step1_classifier', 'step2_cams', 'step4_sam_tuning_iter0',
                 'step5_pseudo_labels_iter1', 'step5_pseudo_labels_iter3',
                 'step7_evaluation', 'embedding_cache']:
        (tmp_path / name).mkdir()
    (tmp_path / 'final_metrics.json').write_text('{}')
    moved = restart_from(str(tmp_path), 'step4_sam_tuning_iter0', stage_sequence(1))
    kept = sorted(p.name for p in tmp_path.iterdir() if '.old-' not in p.name)
    assert kept == ['embedding_cache', 'step1_classifier', 'step2_cams']
    assert [os.path.basename(p).split('.old-')[0] for p in moved] == [
        'step4_sam_tuning_iter0', 'step5_pseudo_labels_iter1', 'step5_pseudo_labels_iter3',
        'step7_evaluation', 'final_metrics.json']
    with pytest.raises(UnknownStageError, match="'step5_pseudo_labels_iter2' is not a stage "
                       'of this config; use one of: step1_classifier, step2_cams, '):
        restart_from(str(tmp_path), 'step5_pseudo_labels_iter2', stage_sequence(1))


# --- a finished binary run, rerun with other settings -----------------------------------
def tiny_config(data_root, **changes):
    cfg = tiny_pipeline_config(data_root)
    cfg.evaluation.num_pictures = 1
    cfg.merge_from_dict(changes)
    return cfg


@pytest.fixture(scope='module')
def finished(tmp_path_factory):
    """A finished tiny run (data a, 1 iteration), its config file, and other data (b)."""
    root = tmp_path_factory.mktemp('fingerprints')
    generate_camelyon_like(str(root / 'a'), num_train=8, num_val=2, num_test=4, patch_size=64,
                           seed=1)
    generate_camelyon_like(str(root / 'b'), num_train=8, num_val=2, num_test=4, patch_size=64,
                           seed=2)
    cfg = tiny_config(root / 'a')
    cfg.dump(str(root / 'pipeline.py'))
    EPSAMPipeline(cfg, str(root / 'work')).run()
    return root


def work_copy(finished, tmp_path):
    """The finished work dir, copied (its records point to the original's checkpoints)."""
    shutil.copytree(finished / 'work', tmp_path / 'work', symlinks=True)
    return tmp_path / 'work'


def run_tool(finished, work, *options):
    return load_run_pipeline().main([str(finished / 'pipeline.py'), '--work-dir', str(work),
                                     *options])


def done_times(work):
    return {p.parent.name: p.stat().st_mtime_ns for p in work.glob('*/stage_done.json')}


@pytest.mark.slow
def test_every_record_holds_its_fingerprint(finished):
    work = finished / 'work'
    records = {stage: json.loads((work / stage / 'stage_done.json').read_text())
               for stage in STAGES if (work / stage / 'stage_done.json').exists()}
    assert set(records) >= set(STAGES) - {'step6_sam_tuning_iter1'}  # none kept: not tuned
    plan = plan_stages(PipelineContext(tiny_config(finished / 'a'), str(work)), 1)
    for stage, record in records.items():
        assert record['fingerprint']['digest'] == plan[stage].digest, stage
    cams = records['step2_cams']['fingerprint']['items']
    assert cams['data_root'] == str(finished / 'a')
    assert len(cams['files:train/image']) == 8 and len(cams['files:test/image']) == 4
    evaluation = records['step7_evaluation']['fingerprint']['items']
    assert {k for k in evaluation if k.startswith('upstream:')} == {
        f'upstream:{stage}' for stage in STAGES[:-1]}


@pytest.mark.slow
def test_other_data_and_iterations_stop_the_rerun_before_anything_runs(finished, tmp_path):
    """The reported failure: other data_root and iterations=3 into a finished work dir."""
    work = work_copy(finished, tmp_path)
    before, log = done_times(work), (work / 'pipeline.log').read_text()
    with pytest.raises(SystemExit) as info:
        run_tool(finished, work, '--cfg-options', f"data_root={finished / 'b'}", 'iterations=3')
    message = str(info.value)
    assert message.startswith(
        f"error: step1_classifier was made with other settings: data_root ({finished / 'a'} "
        f"-> {finished / 'b'}), ")
    assert ' files of train/image differ' in message and ' files of test/image differ' in message
    assert message.endswith(f'rerun with --restart-from step1_classifier {RESTART_HINT}')
    # Nothing ran, nothing was printed as a result, nothing was moved.
    assert done_times(work) == before
    assert (work / 'pipeline.log').read_text().count(': running') == log.count(': running')
    assert not (work / 'step5_pseudo_labels_iter2').exists()
    assert not list(work.glob('*.old-*'))
    with pytest.raises(SystemExit, match="^error: --restart-from 'stage9' is not a stage of this"
                       ' config; use one of: step1_classifier, '):
        run_tool(finished, work, '--restart-from', 'stage9')


@pytest.mark.slow
def test_more_iterations_redo_the_evaluation_only_after_restart_from(finished, tmp_path):
    work = work_copy(finished, tmp_path)
    cfg = tiny_config(finished / 'a', iterations=2)
    with pytest.raises(StaleStageError) as info:
        EPSAMPipeline(cfg, str(work)).run()
    assert str(info.value) == (
        'step7_evaluation was made with other settings: iterations (1 -> 2), upstream '
        'step5_pseudo_labels_iter2 added, upstream step6_sam_tuning_iter2 added; rerun with '
        f'--restart-from step7_evaluation {RESTART_HINT}')
    old_metrics = (work / 'final_metrics.json').read_text()

    result = EPSAMPipeline(cfg, str(work), restart_from='step7_evaluation').run()
    assert len(result['rows']) == 7  # 3 baselines, untuned, iterations 0, 1 and 2
    aside = sorted(p.name.split('.old-')[0] for p in work.glob('*.old-*'))
    assert aside == ['final_metrics.json', 'step7_evaluation']
    assert next(work.glob('final_metrics.json.old-*')).read_text() == old_metrics
    log = (work / 'pipeline.log').read_text()
    assert log.count('step7_evaluation: running') == 2
    assert log.count('step1_classifier: running') == 1
    assert '--restart-from step7_evaluation: moved aside step7_evaluation.old-' in log

    # A stage left unfinished is not resumed with other settings either.
    os.remove(work / 'step7_evaluation' / 'stage_done.json')
    cfg.evaluation.seed = 1
    with pytest.raises(StaleStageError, match=r'^step7_evaluation \(unfinished\) was started '
                       r'with other settings: evaluation.seed \(0 -> 1\); rerun with'):
        EPSAMPipeline(cfg, str(work)).run()

    # Records of older epsam (no fingerprint) are reused, with one warning line.
    cfg.evaluation.seed = 0
    record_path = work / 'step1_classifier' / 'stage_done.json'
    record = json.loads(record_path.read_text())
    del record['fingerprint']
    record_path.write_text(json.dumps(record))
    EPSAMPipeline(cfg, str(work)).run()
    log = (work / 'pipeline.log').read_text()
    assert log.count('step1_classifier: stage_done.json predates stage fingerprints (older '
                     'epsam); reused without checking its settings') == 1
    assert log.count('step7_evaluation: running') == 3


@pytest.mark.slow
def test_restart_from_the_classifier_redoes_every_stage_on_the_new_data(finished, tmp_path):
    work = work_copy(finished, tmp_path)
    cfg = tiny_config(finished / 'b')
    with pytest.raises(StaleStageError, match='^step1_classifier was made with other settings'):
        EPSAMPipeline(cfg, str(work)).run()
    EPSAMPipeline(cfg, str(work), restart_from='step1_classifier').run()
    aside = {p.name.split('.old-')[0] for p in work.glob('*.old-*')}
    assert aside == {'final_metrics.json', *STAGES} - {'step6_sam_tuning_iter1'}
    for stage in ('step2_cams', 'step7_evaluation'):
        record = json.loads((work / stage / 'stage_done.json').read_text())
        assert record['fingerprint']['items']['data_root'] == str(finished / 'b')
    assert str(finished / 'work') not in (work / 'step2_cams' / 'stage_done.json').read_text()
    EPSAMPipeline(cfg, str(work)).run()  # and now it resumes as before
    assert (work / 'pipeline.log').read_text().count('step1_classifier: running') == 2


# --- the multi-class runner records and checks fingerprints too ----------------------
@pytest.mark.slow
def test_multiclass_stages_are_fingerprinted(tmp_path):
    generate_bcss_like(str(tmp_path / 'data'), num_train=8, num_val=2, num_test=4,
                       patch_size=64, seed=1)
    cfg = tiny_multiclass_config(tmp_path / 'data')
    cfg.use_sam = False
    work = tmp_path / 'work'
    EPSAMPipeline(cfg, str(work)).run()
    assert sorted(p.parent.name for p in work.glob('*/stage_done.json')) == [
        'step1_classifier', 'step2_cams', 'step7_evaluation']
    items = json.loads((work / 'step2_cams' / 'stage_done.json').read_text())[
        'fingerprint']['items']
    assert (items['split_labels.train'], items['split_labels.test']) == ('filename', 'prediction')
    cfg.cam_name = 'Grad-CAM'
    with pytest.raises(StaleStageError) as info:
        EPSAMPipeline(cfg, str(work)).run()
    assert str(info.value).startswith('step7_evaluation was made with other settings: '
                                      'cam_name (CAM -> Grad-CAM); ')

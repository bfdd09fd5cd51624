"""The EP-SAM pipeline end to end on tiny synthetic data, and its resume behaviour."""
import importlib.util
import json
import os

import pytest
from mmengine.config import Config

from epsam.datasets.synthetic import generate_camelyon_like
from epsam.pipeline import EPSAMPipeline, StageLedger
from epsam.pipeline.context import PipelineContext
from tests.conftest import REPO_ROOT, run_tool

CONFIG = (REPO_ROOT / 'configs' / 'epsam' /
          'epsam-pipeline_r18tiny-cam_sam-tiny-decoder_3iter_synthetic-camelyon-128x128.py')


def tiny_pipeline_config(data_root, config=CONFIG) -> Config:
    cfg = Config.fromfile(str(config))
    cfg.data_root = str(data_root)
    cfg.classifier.config = str(REPO_ROOT / cfg.classifier.config)
    cfg.classifier.cfg_options = {'train_cfg.max_epochs': 2, 'train_cfg.val_interval': 2,
                                  'default_hooks.checkpoint.interval': 2}
    cfg.sam_tuning.config = str(REPO_ROOT / cfg.sam_tuning.config)
    cfg.sam_tuning.cfg_options = {'train_cfg.max_epochs': 1, 'param_scheduler.0.T_max': 1}
    cfg.iterations = 1
    cfg.evaluation.num_pictures = 2
    return cfg


def test_stage_ledger_marks_and_reads(tmp_path):
    ledger = StageLedger(str(tmp_path))
    assert not ledger.is_done('a') and ledger.record('a') is None
    ledger.mark_done('a', dict(seconds=1.5))
    assert ledger.is_done('a') and ledger.record('a') == dict(seconds=1.5)
    (tmp_path / 'b').mkdir()
    (tmp_path / 'b' / 'stage_done.json').write_text('{broken')
    with pytest.raises(RuntimeError, match='cannot be read.*delete it'):
        ledger.record('b')


@pytest.mark.slow
def test_pipeline_runs_every_stage_and_resumes(tmp_path, capsys):
    data_root = tmp_path / 'data'
    generate_camelyon_like(str(data_root), num_train=16, num_val=4, num_test=8,
                           patch_size=64, seed=1)
    work_dir = tmp_path / 'work'
    cfg = tiny_pipeline_config(data_root)
    result = EPSAMPipeline(cfg, str(work_dir)).run()

    # The console numbers the steps; each training's environment, config and
    # hook order go to its log file only.
    console = capsys.readouterr().out
    assert 'step 1/6 step1_classifier: running' in console
    assert 'step 6/6 step7_evaluation: finished in' in console
    assert 'Config:' not in console and 'System environment' not in console
    training_logs = list((work_dir / 'step1_classifier').glob('*/*.log'))
    assert len(training_logs) == 1 and 'Config:' in training_logs[0].read_text()

    methods = [row['method'] for row in result['rows']]
    assert methods[0] == 'whole patch (every pixel foreground)'
    assert methods[1].startswith('CAM initial masks, PercentileMaskMaker(percentile=10')
    assert methods[2:4] == ['CAM at Otsu threshold', 'SAM + CAM prompts, untuned']
    assert len(methods) == 6  # 3 baselines, untuned, iteration 0 and iteration 1
    scores = [row['metrics'] for row in result['rows']]
    assert all(0 <= m['dice'] <= 100 and 0 <= m['iou'] <= m['dice'] + 1e-9 for m in scores)
    # a row's training seconds: everything spent to get its method (cumulative)
    seconds = [row['train_seconds'] for row in result['rows']]
    assert seconds[0] == 0.0 and seconds[1] == seconds[2] == seconds[3] > 0
    assert seconds[3] < seconds[4] < seconds[5]
    assert result['stand_in_sam'] and 'stand-in' in result['sam']
    assert 'RANDOM STAND-IN' in result['table']
    for picture in result['pictures']:
        assert os.path.getsize(picture) > 1000
    final, = json.loads((work_dir / 'final_metrics.json').read_text())
    assert final['stand_in_sam'] and 'No pixel label' in final['notes']
    assert final['train_time_s'] == seconds[5] and final['trainable_params'] > 0
    assert final['protocol'] == 'per-image foreground Dice/IoU'
    assert final['metrics'] == dict(Dice=scores[5]['dice'], IoU=scores[5]['iou'])
    assert final['notes'].startswith(result['sam'] + '. Protocol: ')  # sentences, stops
    markdown = (work_dir / 'step7_evaluation' / 'results.md').read_text()
    assert 'stand-in' in markdown and '| CAM initial masks' in markdown
    assert '| whole patch' in markdown and 'whole-patch masks' in markdown

    # tools/test.py evaluates a tuned SAM with the classifier's CAM prompts,
    # from the config the pipeline dumped next to it.
    tuned = StageLedger(str(work_dir)).record('step4_sam_tuning_iter0')
    proc = run_tool(['tools/test.py', work_dir / 'step4_sam_tuning_iter0' / 'sam_tuning_config.py',
                     tuned['checkpoint'], '--work-dir', tmp_path / 'test',
                     '--out', tmp_path / 'test_out'])
    assert 'Dice' in proc.stdout + proc.stderr
    per_image = (tmp_path / 'test_out' / 'per_image.csv').read_text().splitlines()
    assert len(per_image) == 1 + len(list((data_root / 'test' / 'mask').iterdir()))

    # Interrupt: forget the last two stages; a rerun redoes only those.
    os.remove(work_dir / 'step7_evaluation' / 'stage_done.json')
    os.remove(work_dir / 'step5_pseudo_labels_iter1' / 'stage_done.json')
    classifier_ckpt = StageLedger(str(work_dir)).record('step1_classifier')['checkpoint']
    mtime = os.path.getmtime(classifier_ckpt)
    again = EPSAMPipeline(cfg, str(work_dir)).run()
    assert os.path.getmtime(classifier_ckpt) == mtime
    assert [r['method'] for r in again['rows']] == methods
    log = (work_dir / 'pipeline.log').read_text()
    assert 'step1_classifier: done earlier, skipped' in log
    assert 'step4_sam_tuning_iter0: done earlier, skipped' in log
    assert log.count('step5_pseudo_labels_iter1: running') == 2


@pytest.mark.slow
def test_pipeline_tunes_and_pseudo_labels_with_an_adapter(tmp_path):
    """CAD as the tuning step: pseudo-labels and evaluation run through the adapter."""
    data_root = tmp_path / 'data'
    generate_camelyon_like(str(data_root), num_train=12, num_val=2, num_test=6,
                           patch_size=64, seed=2)
    work_dir = tmp_path / 'work'
    config = str(CONFIG).replace('sam-tiny-decoder', 'sam-tiny-cad')
    result = EPSAMPipeline(tiny_pipeline_config(data_root, config), str(work_dir)).run()

    assert [row['method'] for row in result['rows']][3] == 'SAM + CAM prompts, untuned'
    assert len(result['rows']) == 6
    settings = json.loads((work_dir / 'step5_pseudo_labels_iter1' / 'settings.json').read_text())
    assert '+CADAdapter:' in settings['sam_weights']
    # The adapter's frozen-encoder part came from the shared embedding cache.
    assert any((work_dir / 'embedding_cache').iterdir())

    # tools/analysis/sam_mask_coverage.py reads the tuned SAM's masks back.
    spec = importlib.util.spec_from_file_location(
        'sam_mask_coverage', REPO_ROOT / 'tools' / 'analysis' / 'sam_mask_coverage.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    ctx = PipelineContext(tiny_pipeline_config(data_root, config), str(work_dir))
    found = tool.coverage(ctx, 0, 'test')
    assert found['masks'] > 0 and 0.0 <= found['min'] <= found['mean'] <= found['max'] <= 1.0


@pytest.mark.slow
def test_demo_config_runs_the_real_lite_medsam(tmp_path):
    """The demo's pipeline config end to end, tiny: LiteMedSAM, box prompts, Otsu CAM masks."""
    data_root = tmp_path / 'data'
    generate_camelyon_like(str(data_root), num_train=8, num_val=2, num_test=4, patch_size=64,
                           seed=4)
    config = REPO_ROOT / 'configs' / 'epsam' / (
        'epsam-pipeline_r18tiny-cam-otsu_lite-medsam-decoder-box_3iter_'
        'synthetic-camelyon-128x128.py')
    cfg = tiny_pipeline_config(data_root, config)
    result = EPSAMPipeline(cfg, str(tmp_path / 'work')).run()
    assert not result['stand_in_sam'] and 'SAM: LiteMedSAM' in result['table']
    assert '79d8c9dca6db4d69d3f905579e5250af05e859fff9c1f543e89a513c3028ce76' in result['sam']
    methods = [row['method'] for row in result['rows']]
    assert methods[:3] == ['whole patch (every pixel foreground)',
                           'CAM initial masks, OtsuMaskMaker()', 'CAM at Otsu threshold']
    untuned = result['rows'][3]
    assert untuned['method'] == 'SAM + CAM prompts, untuned'
    assert 0 <= untuned['metrics']['dice'] <= 100
    assert all('whole_patch_masks' in row['metrics'] for row in result['rows'])
    settings = (tmp_path / 'work' / 'step4_sam_tuning_iter0' / 'sam_tuning_config.py').read_text()
    assert 'ComponentBoxPrompt' in settings and "variant='lite_medsam'" in settings

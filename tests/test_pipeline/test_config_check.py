"""Pipeline configs are checked before any stage runs: keys, SAM settings, paths, values."""
import importlib.util
import os

import pytest
from mmengine.config import Config

from epsam.datasets.synthetic import generate_camelyon_like
from epsam.pipeline import EPSAMPipeline, PipelineConfigError
from epsam.pipeline.config_check import pipeline_config_problems, validate_pipeline_config
from tests.conftest import REPO_ROOT

CONFIGS = REPO_ROOT / 'configs' / 'epsam'
CONFIG = CONFIGS / 'epsam-pipeline_r18tiny-cam_sam-tiny-decoder_3iter_synthetic-camelyon-128x128.py'
CLASSIFIER_CONFIG = (REPO_ROOT / 'configs' / 'adl_cam'
                     / 'adl-cam_r18tiny-hf_1xb16-15e_synthetic-camelyon-128x128.py')
SAM_TUNING_CONFIG = (REPO_ROOT / 'configs' / 'sam_tuning'
                     / 'sam-decoder_tiny_1xb4-10e_pseudo-masks.py')
PIPELINE_CONFIGS = sorted((REPO_ROOT / 'configs' / 'epsam').glob('epsam-pipeline_*.py'))


def load_run_pipeline():
    spec = importlib.util.spec_from_file_location('run_pipeline_tool',
                                                  REPO_ROOT / 'tools' / 'run_pipeline.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('data')
    generate_camelyon_like(str(root), num_train=4, num_val=2, num_test=2, patch_size=32, seed=1)
    return root


def config(data_root, **changes) -> Config:
    cfg = Config.fromfile(str(CONFIG))
    cfg.data_root = str(data_root)
    for section in (cfg.classifier, cfg.sam_tuning):
        section.config = str(REPO_ROOT / section.config)
    cfg.merge_from_dict(changes)
    return cfg


def run_tool(work_dir, data_root, *options):
    with pytest.raises(SystemExit) as info:
        load_run_pipeline().main([
            str(CONFIG), '--work-dir', str(work_dir), '--cfg-options',
            f'data_root={data_root}',
            f'classifier.config={CLASSIFIER_CONFIG}', f'sam_tuning.config={SAM_TUNING_CONFIG}',
            *options])
    return str(info.value)


def test_a_sam_typo_stops_the_run_before_the_classifier(tmp_path, data_root):
    message = run_tool(tmp_path / 'work', data_root, 'sam.varaint=vit_b')
    assert message.startswith('error: pipeline config ')
    assert "sam.varaint is not an argument of build_sam; did you mean 'variant'?" in message
    assert not (tmp_path / 'work' / 'step1_classifier').exists()


def test_an_unknown_top_level_key_is_refused_with_a_suggestion(tmp_path, data_root):
    message = run_tool(tmp_path / 'work', data_root, 'iteratons=1')
    assert message.endswith("iteratons is not a pipeline setting; did you mean 'iterations'?")
    assert not (tmp_path / 'work' / 'step1_classifier').exists()


def test_every_problem_is_reported_at_once(tmp_path, data_root):
    cfg = config(data_root, iterations=-1, sam=dict(variant='vit_x', checkpoint='no/such.pth'),
                 split_prefixes=dict(test=dict(img_path='nowhere')),
                 classifier=dict(config='no/such/classifier.py'))
    with pytest.raises(PipelineConfigError) as info:
        EPSAMPipeline(cfg, str(tmp_path / 'work')).run()
    lines = str(info.value).splitlines()
    here = os.getcwd()
    assert lines == [
        f'pipeline config {CONFIG} has 5 problems:',
        '  - iterations must be a non-negative int, got -1',
        "  - sam.variant 'vit_x' is not a registered SAM variant; did you mean 'vit_l'? "
        '(registered: lite_medsam, mobile_sam, tiny, vit_b, vit_h, vit_l)',
        f"  - sam.checkpoint 'no/such.pth' does not exist (relative to {here}); give the SAM "
        'weights file, or None',
        f"  - split_prefixes['test'].img_path: folder '{data_root}/nowhere' does not exist; "
        "fix data_root or split_prefixes['test']",
        f"  - classifier.config 'no/such/classifier.py' does not exist (relative to {here}); "
        'give the step-1 classifier config (configs/adl_cam/adl-cam_*.py)',
    ]
    assert not (tmp_path / 'work' / 'step1_classifier').exists()


def test_missing_data_and_sam_fields_are_named(tmp_path):
    cfg = Config.fromfile(str(CONFIG))
    cfg.data_root = str(tmp_path / 'absent')
    cfg.sam = dict(variant='tiny', img_size=100)  # not a multiple of the patch size
    problems = pipeline_config_problems(cfg)
    assert problems[0].startswith("sam: SAM variant 'tiny': img_size (100) must be a multiple")
    assert problems[1] == (f"data_root '{tmp_path / 'absent'}' does not exist; set it to the "
                           'dataset folder (--cfg-options data_root=PATH)')


@pytest.mark.parametrize('path', PIPELINE_CONFIGS, ids=lambda p: p.stem)
def test_repository_configs_have_no_key_or_sam_problems(path):
    """Helper variables (box_prompt, class_prompt) are told apart from typos without notes."""
    problems = pipeline_config_problems(Config.fromfile(str(path)))
    assert all(p.startswith('data_root ') for p in problems), problems


def test_helper_variables_and_typos(data_root):
    cfg = config(data_root)
    cfg.box_prompt = dict(type='ComponentBoxPrompt', min_area=16)
    cfg.evaluation.prompt = dict(type='ComponentBoxPrompt', min_area=16)  # uses it
    cfg.train_splits = ['train']  # used nowhere: a typo-like leftover
    cfg._points = 50  # private helpers are accepted
    cfg.unused_prompt = dict(type='ProbabilisticPointPrompt', num_points=7)
    cfg.test_splt = 'test'  # near-miss of test_split: a typo though 'test' is used
    cfg.iters = 2  # numbers are never taken as helpers
    assert pipeline_config_problems(cfg) == [
        "train_splits is not a pipeline setting; did you mean 'train_split'?",
        "unused_prompt is not a pipeline setting; remove it (a helper variable must be used in "
        "a setting, or be named '_unused_prompt')",
        "test_splt is not a pipeline setting; did you mean 'test_split'?",
        "iters is not a pipeline setting; did you mean 'iterations'?",
    ]
    validate_pipeline_config(config(data_root))  # the unchanged config is fine

"""The multi-class pipeline: class-agnostic targets, evaluation maths, a tiny run end to end."""
import json

import numpy as np
import pytest
import torch
from mmengine.config import Config

from epsam.benchmarking.harness import load_final_metrics
from epsam.datasets.synthetic import generate_bcss_like
from epsam.fileio.cam_store import save_label_png
from epsam.fileio.patch_io import read_patch_mask
from epsam.pipeline import EPSAMPipeline
from epsam.pipeline.multiclass_stages import expand_class_targets
from epsam.pipeline.scoring import protocol_metrics, split_confusion
from epsam.registry import DATASETS
from tests.conftest import REPO_ROOT

CONFIG = (REPO_ROOT / 'configs' / 'epsam' /
          'epsam-pipeline_r18tiny-cam_sam-tiny-decoder_3iter_synthetic-bcss-128x128.py')
BACKGROUND = 4


def test_expand_class_targets_one_binary_target_per_present_class(tmp_path):
    (tmp_path / 'img').mkdir()
    (tmp_path / 'img' / 'a.png').write_bytes(b'not read')
    class_map = np.array([[0, 0, 2], [4, 255, 2]], dtype=np.uint8)
    save_label_png(str(tmp_path / 'maps' / 'a.png'), class_map)
    count = expand_class_targets(str(tmp_path / 'img'), str(tmp_path / 'maps'),
                                 str(tmp_path / 'out'), num_classes=4)
    assert count == 2
    names = sorted(p.name for p in (tmp_path / 'out' / 'masks').iterdir())
    assert names == ['a__c0.png', 'a__c2.png']
    assert sorted(p.name for p in (tmp_path / 'out' / 'images').iterdir()) == names
    target = read_patch_mask(str(tmp_path / 'out' / 'masks' / 'a__c2.png'))
    np.testing.assert_array_equal(target, [[0, 0, 1], [0, 255, 1]])
    save_label_png(str(tmp_path / 'maps' / 'b.png'), class_map)
    with pytest.raises(FileNotFoundError, match='b.png has no image'):
        expand_class_targets(str(tmp_path / 'img'), str(tmp_path / 'maps'),
                             str(tmp_path / 'out'), num_classes=4)


def test_split_confusion_counts_missing_and_undecided_as_background():
    truth = np.array([[0, 1], [4, 255]], dtype=np.uint8)
    conf = split_confusion({'a': np.array([[0, 255], [4, 1]], dtype=np.uint8), 'b': None},
                           {'a': truth, 'b': truth}, num_classes=5, background_index=BACKGROUND)
    assert int(conf.sum()) == 6  # the 255 ground-truth pixels are dropped
    assert int(conf[0, 0]) == 1 and int(conf[1, BACKGROUND]) == 2 and int(conf[0, 4]) == 1
    metrics = protocol_metrics(conf, ('TUM', 'STR', 'LYM', 'NEC', 'BACK'), BACKGROUND)
    # exclude_background: TUM 1 TP of (2 GT + 0 FP); STR 0; others absent (NaN, skipped).
    assert metrics['exclude_background']['IoU.TUM'] == pytest.approx(50.0)
    assert metrics['exclude_background']['mIoU'] == pytest.approx(25.0)
    assert 'IoU.BACK' not in metrics['exclude_background']
    # full matrix: background IoU = 2 TP / (2 GT + 5 predicted - 2) and tissue means unchanged.
    assert metrics['full_matrix']['IoU.BACK'] == pytest.approx(40.0)
    assert metrics['full_matrix']['mIoU'] == pytest.approx(25.0)


def test_unknown_task_is_refused(tmp_path):
    cfg = Config(dict(task='multi-class', sam=dict(variant='tiny')))
    with pytest.raises(ValueError, match="task must be one of .*'multi-class'"):
        EPSAMPipeline(cfg, str(tmp_path)).run()


MULTICLASS_CONFIGS = sorted(
    path for path in (REPO_ROOT / 'configs' / 'epsam').glob('epsam-pipeline_*.py')
    if Config.fromfile(str(path)).get('task') == 'multiclass')


def test_multiclass_configs_exist():
    names = {path.name for path in MULTICLASS_CONFIGS}
    assert CONFIG.name in names and len(names) >= 5  # synthetic x2 + three real datasets


@pytest.mark.parametrize('path', MULTICLASS_CONFIGS, ids=lambda p: p.stem)
def test_multiclass_config_matches_its_classifier(path):
    cfg = Config.fromfile(str(path))
    assert set(cfg.split_prefixes) >= {cfg.train_split, cfg.test_split}
    assert 'seg_map_path' in cfg.split_prefixes[cfg.test_split]
    classifier = Config.fromfile(str(REPO_ROOT / cfg.classifier.config))
    meta = DATASETS.get(classifier.train_dataloader.dataset.type).METAINFO
    assert classifier.model.head.num_classes == len(meta['cls_classes'])
    mask_maker = (cfg.cams or classifier.cam_cfg).mask_maker
    assert mask_maker.type == 'MultiClassMaskMaker'
    if cfg.get('use_sam', True):
        assert (REPO_ROOT / cfg.sam_tuning.config).is_file()


def tiny_multiclass_config(data_root, config=CONFIG) -> Config:
    cfg = Config.fromfile(str(config))
    cfg.data_root = str(data_root)
    cfg.classifier.config = str(REPO_ROOT / cfg.classifier.config)
    cfg.classifier.cfg_options = {'train_cfg.max_epochs': 2, 'train_cfg.val_interval': 2,
                                  'default_hooks.checkpoint.interval': 2,
                                  'param_scheduler.0.T_max': 2}
    cfg.sam_tuning.config = str(REPO_ROOT / cfg.sam_tuning.config)
    cfg.sam_tuning.cfg_options = {'train_cfg.max_epochs': 1, 'param_scheduler.0.T_max': 1}
    # Keep every SAM mask (the stand-in SAM rarely passes IDS 0.9) and mark every
    # pixel no mask covers as undecided, so both cases show up in the maps.
    cfg.pseudo_labels.selector = dict(type='KeepAllSelector')
    cfg.class_merge.min_confidence = 0.0
    cfg.iterations = 1
    return cfg


@pytest.mark.slow
def test_multiclass_pipeline_end_to_end(tmp_path):
    torch.manual_seed(0)
    generate_bcss_like(str(tmp_path / 'data'), num_train=16, num_val=4, num_test=6,
                       patch_size=64, seed=1)
    work_dir = tmp_path / 'work'
    result = EPSAMPipeline(tiny_multiclass_config(tmp_path / 'data'), str(work_dir)).run()

    # Pseudo-labels: only classes of the image label, background, or 255.
    pseudo_dir = work_dir / 'step5_pseudo_labels_iter1'
    maps = sorted((pseudo_dir / 'masks').glob('*.png'))
    assert maps, 'no class map was written'
    seen_undecided = False
    for path in maps:
        record = json.loads((pseudo_dir / 'records' / f'{path.stem}.json').read_text())
        labelled = {info['class'] for info in record['classes']}
        flags = path.stem.split('[')[1].rstrip(']')  # synthetic names: '...+0[1011]'
        assert labelled == {k for k, flag in enumerate(flags) if flag == '1'}
        values = set(np.unique(read_patch_mask(str(path))).tolist())
        assert values <= labelled | {BACKGROUND, 255}, (path.name, values, labelled)
        seen_undecided |= 255 in values
    assert seen_undecided
    # SAM trained on one binary target per (image, class) pair.
    targets = list((work_dir / 'step6_sam_tuning_iter1' / 'targets' / 'masks').glob('*__c*'))
    assert len(targets) >= len(maps)

    # Evaluation: every method under both protocols.
    methods = list(dict.fromkeys(row['method'] for row in result['rows']))
    assert methods[:2] == ['CAM class maps (initial masks)', 'SAM + CAM prompts, untuned']
    assert len(methods) == 4
    for method in methods:
        protocols = {row['protocol']: row['metrics'] for row in result['rows']
                     if row['method'] == method}
        assert set(protocols) == {'exclude_background', 'full_matrix'}
        assert 'IoU.BACK' in protocols['full_matrix']
        assert 'IoU.BACK' not in protocols['exclude_background']
        for metrics in protocols.values():
            assert 0 <= metrics['mIoU'] <= 100 and 0 <= metrics['Dice'] <= 100
    assert 'RANDOM STAND-IN' in result['table']

    # final_metrics.json: one harness row per protocol for the last method.
    rows = load_final_metrics(str(work_dir / 'final_metrics.json'))
    assert sorted(row.protocol for row in rows) == ['exclude_background', 'full_matrix']
    assert all(row.stand_in_sam and row.trainable_params > 0 for row in rows)
    assert all(set(row.metrics) >= {'mIoU', 'FwIoU', 'Dice', 'IoU.TUM'} for row in rows)


@pytest.mark.slow
def test_multiclass_pipeline_with_an_in_encoder_adapter(tmp_path):
    """LoRA as the tuning step: its class maps come from the LoRA-adapted encoder."""
    torch.manual_seed(0)
    generate_bcss_like(str(tmp_path / 'data'), num_train=8, num_val=2, num_test=4,
                       patch_size=64, seed=3)
    work_dir = tmp_path / 'work'
    config = str(CONFIG).replace('sam-tiny-decoder', 'sam-tiny-lora')
    cfg = tiny_multiclass_config(tmp_path / 'data', config)
    assert 'LoRA' in cfg.method_name
    EPSAMPipeline(cfg, str(work_dir)).run()
    rows = load_final_metrics(str(work_dir / 'final_metrics.json'))
    assert sorted(row.protocol for row in rows) == ['exclude_background', 'full_matrix']
    # LoRA's trainable parameters are counted with the decoder's.
    assert all(row.trainable_params > 40608 for row in rows)

"""Every step-1 classifier config in configs/adl_cam/ loads, builds its model, fits its dataset."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

import epsam  # noqa: F401
from epsam.registry import CAM_METHODS, DATASETS, MASK_MAKERS, METRICS, MODELS

CONFIG_DIR = osp.join(osp.dirname(__file__), '..', '..', 'configs', 'adl_cam')
#: Step-1 configs: the patch classifier and its CAM settings.
CONFIGS = sorted(glob.glob(osp.join(CONFIG_DIR, 'adl-cam_*.py')))
EXPECTED = {
    'adl-cam_r50-hf_1xb16-50e_camelyon16-512x512.py',
    'adl-cam_r50-hf_1xb16-50e_camelyon17-512x512.py',
    'adl-cam_r18tiny-hf_1xb16-15e_synthetic-camelyon-128x128.py',
    'adl-cam_r18tiny-hf_1xb16-15e_synthetic-bcss-128x128.py',
}


def test_classifier_config_list_is_complete():
    assert CONFIGS, f'no classifier configs (adl-cam_*.py) found in {CONFIG_DIR}'
    assert EXPECTED <= {osp.basename(path) for path in CONFIGS}


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds_a_model_that_fits_its_dataset(path):
    cfg = Config.fromfile(path)
    with DefaultScope.overwrite_default_scope('epsam'):
        model = MODELS.build(cfg.model)
        dataset_class = DATASETS.get(cfg.train_dataloader.dataset.type)
        assert type(model).__name__ == 'CAMClassifier'
        assert model.num_classes == len(dataset_class.METAINFO['cls_classes'])
        # the CAM settings build
        CAM_METHODS.build(cfg.cam_cfg.method)
        MASK_MAKERS.build(cfg.cam_cfg.mask_maker)
        # model selection on patch labels only
        for key in ('val_evaluator', 'test_evaluator'):
            assert cfg[key]['type'] == 'PatchClassificationMetric'
            assert METRICS.get(cfg[key]['type']) is not None
    assert cfg.default_hooks.checkpoint.get('save_best') == 'cls/f1'
    assert model.data_preprocessor.out_channels == cfg.model.backbone.in_channels


def test_epsam_hyperparameters_on_camelyon():
    for name, percentile in (('camelyon16', 10), ('camelyon17', 30)):
        cfg = Config.fromfile(osp.join(
            CONFIG_DIR, f'adl-cam_r50-hf_1xb16-50e_{name}-512x512.py'))
        assert cfg.optim_wrapper.optimizer == dict(type='Adam', lr=1e-5, weight_decay=1e-3)
        assert cfg.train_dataloader.batch_size == 16 and cfg.train_cfg.max_epochs == 50
        assert cfg.param_scheduler == [dict(type='StepLR', step_size=10, gamma=0.9,
                                            by_epoch=True)]
        assert cfg.cam_cfg.mask_maker.percentile == percentile
        assert cfg.cam_cfg.mask_maker.opening_kernel == 21
        assert cfg.cam_cfg.mask_maker.kernel_reference_size == 512
        assert cfg.cam_cfg.method.rotations == (0, 90, 180, 270)
        assert not cfg.cam_cfg.method.hflip
        assert cfg.model.backbone.adl_cfg == dict(drop_rate=0.75, gamma=0.8)
        early_stop = [h for h in cfg.custom_hooks if h['type'] == 'EarlyStoppingHook']
        assert early_stop and early_stop[0]['patience'] == 25

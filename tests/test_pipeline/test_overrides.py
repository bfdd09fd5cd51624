"""The pipeline's values written into stage configs, replaced values logged."""
import logging

import pytest
from mmengine.config import Config
from mmengine.logging import MMLogger

from epsam.pipeline import overrides
from epsam.pipeline.overrides import apply_pipeline_values


@pytest.fixture
def logger():
    return MMLogger.get_instance('test_overrides', log_level='INFO')


def test_replaced_value_is_logged_and_returned(logger, monkeypatch):
    lines = []
    monkeypatch.setattr(overrides, 'print_log',
                        lambda message, logger=None, level=None: lines.append((message, level)))
    cfg = Config(dict(model=dict(sam=dict(variant='vit_b', checkpoint='a.pth'))))
    replaced = apply_pipeline_values(
        cfg, {'model.sam': dict(variant='lite_medsam', checkpoint=None)}, 'tuning.py', logger)
    assert lines == [("[pipeline] tuning.py: model.sam = {'variant': 'lite_medsam', "
                      "'checkpoint': None} from the pipeline config (the config said "
                      "{'variant': 'vit_b', 'checkpoint': 'a.pth'})", logging.INFO)]
    assert cfg.model.sam.variant == 'lite_medsam' and cfg.model.sam.checkpoint is None
    assert replaced == [dict(config='tuning.py', key='model.sam',
                             pipeline=dict(variant='lite_medsam', checkpoint=None),
                             replaced=dict(variant='vit_b', checkpoint='a.pth'))]


def test_unset_none_and_equal_values_are_filled_silently(logger):
    cfg = Config(dict(train_dataloader=dict(dataset=dict(data_root=None, data_prefix=dict(
        img_path='train/image')))))
    replaced = apply_pipeline_values(cfg, {
        'train_dataloader.dataset.data_root': '/data',
        'train_dataloader.dataset.data_prefix': dict(img_path='train/image'),
        'val_dataloader.dataset.data_root': '/data',
    }, 'classifier.py', logger)
    assert replaced == []
    assert cfg.train_dataloader.dataset.data_root == '/data'
    assert cfg.val_dataloader.dataset.data_root == '/data'


def test_key_below_a_non_dict_is_refused(logger):
    cfg = Config(dict(model=dict(sam='vit_b')))
    with pytest.raises(KeyError, match='model.sam.variant'):
        apply_pipeline_values(cfg, {'model.sam.variant': 'tiny'}, 'tuning.py', logger)

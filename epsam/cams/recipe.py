"""The CAM recipe of a classifier config: CAM method, TTA, mask maker, batch size.

A classifier config may carry ``cam_cfg = dict(method=..., mask_maker=...,
batch_size=..., only_positive=..., label_source=...)``; what it leaves out
comes from :data:`DEFAULT_CAM_CFG` (EP-SAM's defaults). :func:`cam_recipe`
applies the command-line overrides (a CAM method swapped inside the TTA
wrapper, TTA dropped) and :func:`split_dataset_config` gives the dataset a
split's CAMs are computed on.
"""
import copy
from typing import Optional

from mmengine.config import Config

__all__ = ['CAM_METHOD_TYPES', 'DEFAULT_CAM_CFG', 'cam_recipe', 'split_dataset_config']

#: ``--cam-method`` choices -> CAM_METHODS type.
CAM_METHOD_TYPES = {'cam': 'CAM', 'gradcam': 'GradCAM', 'gradcam++': 'GradCAMPlusPlus'}
#: EP-SAM's defaults when a config has no ``cam_cfg``.
DEFAULT_CAM_CFG = dict(
    method=dict(type='TTACAM', cam_method=dict(type='CAM'), rotations=(0, 90, 180, 270),
                hflip=False),
    mask_maker=dict(type='PercentileMaskMaker', percentile=10, opening_kernel=21,
                    kernel_reference_size=512),
    batch_size=8,
    only_positive=True,
    label_source='label')


def _plain(value) -> dict:
    return value.to_dict() if hasattr(value, 'to_dict') else dict(value)


def cam_recipe(cfg: Config, cam_method: Optional[str] = None, no_tta: bool = False,
               batch_size: Optional[int] = None, label_source: Optional[str] = None,
               all_images: bool = False) -> dict:
    """``cam_cfg`` of the config (or EP-SAM's defaults) with the overrides applied.

    Args:
        cfg: The classifier config.
        cam_method: A key of :data:`CAM_METHOD_TYPES` replacing the CAM method
            (inside the TTA wrapper when there is one; its ``layer`` is kept).
        no_tta: Drop test-time augmentation.
        batch_size: Images per forward pass.
        label_source: ``'label'`` or ``'prediction'``.
        all_images: CAMs of negative images too.
    """
    settings = copy.deepcopy(DEFAULT_CAM_CFG)
    settings.update(copy.deepcopy(dict(cfg.get('cam_cfg', None) or {})))
    method = _plain(settings['method'])
    is_tta = method.get('type') == 'TTACAM'
    inner = dict(method.get('cam_method', dict(type='CAM'))) if is_tta else method
    if cam_method is not None:
        layer = inner.get('layer')
        inner = dict(type=CAM_METHOD_TYPES[cam_method])
        if layer is not None:
            inner['layer'] = layer
    if no_tta or not is_tta:
        method = inner
    else:
        method['cam_method'] = inner
    settings['method'] = method
    if batch_size is not None:
        settings['batch_size'] = batch_size
    if label_source is not None:
        settings['label_source'] = label_source
    if all_images:
        settings['only_positive'] = False
    return settings


def split_dataset_config(cfg: Config, split: str) -> dict:
    """The split's dataset config with the test pipeline (no augmentation).

    The train split keeps no annotation loader: its pixel labels are never read.

    Args:
        cfg: The classifier config.
        split: ``'train'``, ``'val'`` or ``'test'``.

    Raises:
        KeyError: The config has no ``{split}_dataloader`` (the message says what to do).
    """
    loader = cfg.get(f'{split}_dataloader', None)
    if loader is None:
        raise KeyError(f'{split}_dataloader: missing from the config; add it or choose '
                       'another --split')
    dataset = _plain(copy.deepcopy(loader['dataset']))
    if split == 'train':
        test_loader = cfg.get('test_dataloader', None) or cfg.get('val_dataloader', None)
        pipeline = cfg.get('test_pipeline', None) or test_loader['dataset']['pipeline']
        dataset['pipeline'] = [dict(step) for step in pipeline
                               if 'Annotations' not in str(dict(step).get('type', ''))]
    return dataset

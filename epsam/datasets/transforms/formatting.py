"""Packing patch samples for epsam models."""
from typing import Sequence

import numpy as np
import torch
from mmseg.datasets.transforms import PackSegInputs

from epsam.registry import TRANSFORMS

#: mmseg's ``PackSegInputs`` meta keys (``flip``, ``flip_direction`` among
#: them) plus ``RandomRotate90``'s record, so a model can undo the sample's
#: orientation (``SamTuningModel(dihedral_in_embedding_space=True)``).
PATCH_META_KEYS = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape',
                   'scale_factor', 'flip', 'flip_direction', 'reduce_zero_label', 'rotate90_k',
                   'rotate90_after_flip')


@TRANSFORMS.register_module()
class PackPatchInputs(PackSegInputs):
    """mmseg's ``PackSegInputs`` plus the image-level label.

    Output: ``dict(inputs=uint8 tensor (C, H, W), data_samples=SegDataSample)``.
    The data sample carries ``gt_sem_seg`` when a mask was loaded and
    ``gt_label`` (float32 tensor of shape ``(len(cls_classes),)``, 0/1) when the
    entry's ``gt_label`` is known (not ``None``).

    Args:
        meta_keys: Keys copied into the data sample's metainfo (those present
            in the results); by default mmseg's plus ``rotate90_k`` and
            ``rotate90_after_flip`` of :class:`RandomRotate90`.
    """

    def __init__(self, meta_keys: Sequence[str] = PATCH_META_KEYS) -> None:
        super().__init__(meta_keys=tuple(meta_keys))

    def transform(self, results: dict) -> dict:
        """Pack ``results``; see the class docstring."""
        packed = super().transform(results)
        gt_label = results.get('gt_label')
        if gt_label is not None:
            label = torch.as_tensor(np.asarray(gt_label), dtype=torch.float32)
            if label.ndim != 1:
                raise ValueError(f"{results.get('img_path')}: gt_label must be a flat "
                                 f'multi-hot list, got shape {tuple(label.shape)}')
            packed['data_samples'].set_data(dict(gt_label=label))
        return packed

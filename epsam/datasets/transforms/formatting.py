"""Packing patch samples for epsam models."""
import numpy as np
import torch
from mmseg.datasets.transforms import PackSegInputs

from epsam.registry import TRANSFORMS


@TRANSFORMS.register_module()
class PackPatchInputs(PackSegInputs):
    """mmseg's ``PackSegInputs`` plus the image-level label.

    Output: ``dict(inputs=uint8 tensor (C, H, W), data_samples=SegDataSample)``.
    The data sample carries ``gt_sem_seg`` when a mask was loaded and
    ``gt_label`` (float32 tensor of shape ``(len(cls_classes),)``, 0/1) when the
    entry's ``gt_label`` is known (not ``None``).

    Args:
        meta_keys: Keys copied into the data sample's metainfo.
    """

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

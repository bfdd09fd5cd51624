"""WSSS4LUAD lung-adenocarcinoma tissue patches."""
from epsam.registry import DATASETS

from .patch_dataset import PatchClassificationDataset


@DATASETS.register_module()
class WSSS4LUADDataset(PatchClassificationDataset):
    """WSSS4LUAD: tumor, stroma, normal plus background (mask index 3).

    Training names carry the label as ``...-[1, 1, 0].png`` (tumor and
    stroma present). The challenge release keeps training patches in
    ``1.training`` and the masked splits in ``2.validation/{img,mask}`` and
    ``3.testing/{img,mask}``; set ``data_prefix`` to match your copy.
    """

    METAINFO = dict(
        classes=('tumor', 'stroma', 'normal', 'background'),
        palette=[[205, 51, 51], [0, 255, 0], [65, 105, 225], [255, 255, 255]],
        cls_classes=('tumor', 'stroma', 'normal'),
        background_index=3)
    LABEL_PARSER = dict(type='WSSS4LUADLabelParser')

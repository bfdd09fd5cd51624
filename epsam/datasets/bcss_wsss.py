"""BCSS-WSSS breast-cancer tissue patches."""
from epsam.registry import DATASETS

from .patch_dataset import PatchClassificationDataset


@DATASETS.register_module()
class BCSSWSSSDataset(PatchClassificationDataset):
    """BCSS-WSSS: four tissue classes plus background (mask index 4).

    Layout: ``training/*.png`` with labels in the names
    (``TCGA-A2-A0CM-DX1_xmin18251_ymin56009_MPP-0.2500+0[1101].png`` means TUM,
    STR and NEC present); ``val/img`` + ``val/mask`` and ``test/img`` +
    ``test/mask`` with palette-PNG masks. Names in val/test may carry no label:
    use ``label_from='mask'`` (or ``'none'``) there.
    """

    METAINFO = dict(
        classes=('TUM', 'STR', 'LYM', 'NEC', 'BACK'),
        palette=[[255, 0, 0], [0, 255, 0], [0, 0, 255], [153, 0, 255], [255, 255, 255]],
        cls_classes=('TUM', 'STR', 'LYM', 'NEC'),
        background_index=4)
    LABEL_PARSER = dict(type='BCSSLabelParser')

"""LUAD-HistoSeg lung-adenocarcinoma tissue patches."""
from epsam.registry import DATASETS

from .patch_dataset import PatchClassificationDataset


@DATASETS.register_module()
class LUADHistoSegDataset(PatchClassificationDataset):
    """LUAD-HistoSeg: TE, NEC, LYM, TAS plus background (mask index 4).

    Layout: ``train/*.png`` with labels in the names
    (``1031280-2300-27920-[1 0 0 1].png`` means TE and TAS present);
    ``val/img`` + ``val/mask`` and ``test/img`` + ``test/mask`` with
    palette-PNG masks.
    """

    METAINFO = dict(
        classes=('TE', 'NEC', 'LYM', 'TAS', 'BACK'),
        palette=[[205, 51, 51], [0, 255, 0], [65, 105, 225], [255, 165, 0], [255, 255, 255]],
        cls_classes=('TE', 'NEC', 'LYM', 'TAS'),
        background_index=4)
    LABEL_PARSER = dict(type='LUADHistoSegLabelParser')

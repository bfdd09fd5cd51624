"""Camelyon16 / Camelyon17 patches in EP-SAM's layout."""
from epsam.registry import DATASETS

from .patch_dataset import PatchClassificationDataset


@DATASETS.register_module()
class CamelyonPatchDataset(PatchClassificationDataset):
    """Lymph-node patches labelled tumour / normal in the file name.

    Layout (EP-SAM): ``{split}/image/{patch_id}_{label}.png`` with label 0 or 1,
    and ``{split}/mask/{patch_id}_{label}.png`` for positive patches only
    (binary masks, 0/255 or 0/1; read as 0 = normal, 1 = tumour). Use
    ``data_prefix=dict(img_path='train/image', seg_map_path='train/mask')``.
    """

    METAINFO = dict(
        classes=('normal', 'tumor'),
        palette=[[0, 0, 0], [255, 0, 0]],
        cls_classes=('tumor', ),
        background_index=0)
    LABEL_PARSER = dict(type='CamelyonLabelParser')
    BINARY_MASKS = True

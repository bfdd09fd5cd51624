"""Patches labelled by a CSV table (a generic format for new datasets)."""
import os.path as osp
from typing import List, Optional, Tuple

from epsam.fileio.errors import FileProblem
from epsam.registry import DATASETS

from .label_parsers import BaseLabelParser, CSVLabelParser
from .patch_dataset import PatchClassificationDataset


@DATASETS.register_module()
class CSVPatchDataset(PatchClassificationDataset):
    """Patches whose image labels sit in a CSV table.

    The table (``ann_file``, joined to ``data_root`` when relative) has a
    file-name column and one 0/1 column per class; its header names the
    classes. Images are listed from ``data_prefix['img_path']``; an image
    missing from the table and a table row without an image are both reported.

    ``metainfo`` may give ``classes`` (mask indices), ``palette``,
    ``cls_classes`` (label columns to read, in order) and ``background_index``.
    Missing ``cls_classes`` default to the table's class columns; missing
    ``classes`` default to ``cls_classes`` (no background index).

    Args:
        ann_file: The CSV table.
        filename_column: Name of its file-name column.
        metainfo: See above.
        **kwargs: Passed to :class:`PatchClassificationDataset`.
    """

    def __init__(self,
                 ann_file: str,
                 filename_column: str = 'filename',
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        data_root = kwargs.get('data_root')
        csv_file = ann_file if osp.isabs(ann_file) or not data_root else osp.join(
            data_root, ann_file)
        metainfo = dict(metainfo or {})
        parser = CSVLabelParser(
            csv_file, metainfo.get('cls_classes'), filename_column=filename_column,
            backend_args=kwargs.get('backend_args'))
        metainfo.setdefault('cls_classes', tuple(parser.classes))
        metainfo.setdefault('classes', tuple(metainfo['cls_classes']))
        metainfo.setdefault('background_index', None)
        super().__init__(ann_file=ann_file, metainfo=metainfo, label_parser=parser, **kwargs)

    def build_label_parser(self) -> BaseLabelParser:
        """The CSV parser built from ``ann_file``."""
        return self.label_parser_cfg

    def list_entries(self) -> Tuple[List[dict], List[FileProblem]]:
        """As the base class, plus one problem per table row without an image."""
        entries, problems = super().list_entries()
        img_dir = self.data_prefix.get('img_path', '')
        seen = {osp.basename(entry['img_path']) for entry in entries}
        seen.update(osp.basename(problem.path) for problem in problems)
        for name in sorted(set(self.label_parser_cfg.labels) - seen):
            problems.append(FileProblem(
                self.label_parser_cfg.csv_file,
                f'row {name!r} has no image {osp.join(img_dir, name)!r}'))
        return entries, problems

"""Images paired with pseudo-masks written by the EP-SAM pipeline."""
import copy
import os.path as osp
from typing import List, Optional, Tuple, Union

from mmseg.datasets import BaseSegDataset

from epsam.fileio.errors import FileProblem, PatchFileError, checked_entries
from epsam.fileio.patch_io import list_split_files
from epsam.registry import DATASETS

from .label_parsers import BaseLabelParser, build_label_parser

_METAINFO_KEYS = ('classes', 'palette', 'cls_classes', 'background_index')


@DATASETS.register_module()
class PseudoLabelDataset(BaseSegDataset):
    """Images and their pseudo-masks for training a segmenter (after step 7, optional).

    Layout: ``{data_root}/{img_path}/{stem}{img_suffix}`` and
    ``{data_root}/{seg_map_path}/{stem}{seg_map_suffix}`` (``data_prefix`` as
    in mmseg). Pseudo-masks hold class indices, with ``ignore_index`` (255)
    for unlabelled pixels. Entries are listed from the mask folder: a patch
    whose mask was rejected has no mask and is skipped; a mask without an
    image is an error. Works with mmseg's ``LoadAnnotations`` and
    ``EncoderDecoder`` as well as with ``LoadPatchAnnotations``.

    Args:
        source_dataset: Registered dataset name (e.g. ``'CamelyonPatchDataset'``)
            whose ``METAINFO`` is copied; keys in ``metainfo`` win.
        metainfo: ``classes``, ``palette``, ``cls_classes``, ``background_index``.
        label_parser: Optional parser for image labels in the image names;
            ``None`` leaves ``gt_label=None``.
        img_suffix: Image file suffix.
        seg_map_suffix: Pseudo-mask file suffix.
        **kwargs: Passed to :class:`mmseg.datasets.BaseSegDataset`.
    """

    METAINFO: dict = dict()

    def __init__(self,
                 source_dataset: Optional[str] = None,
                 metainfo: Optional[dict] = None,
                 label_parser: Union[dict, BaseLabelParser, None] = None,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 **kwargs) -> None:
        merged = {}
        if source_dataset is not None:
            source = DATASETS.get(source_dataset)
            if source is None:
                raise KeyError(f'source_dataset {source_dataset!r} is not a registered dataset')
            merged.update({key: copy.deepcopy(value) for key, value in
                           getattr(source, 'METAINFO', {}).items() if key in _METAINFO_KEYS})
        merged.update(metainfo or {})
        if not merged.get('classes'):
            raise ValueError('PseudoLabelDataset needs metainfo with "classes" '
                             '(or source_dataset=<a registered dataset name>)')
        self.label_parser_cfg = label_parser
        self.skipped_files: List[FileProblem] = []
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         metainfo=merged, **kwargs)

    def list_entries(self) -> Tuple[List[dict], List[FileProblem]]:
        """Entries for every pseudo-mask with an image, and one problem per bad file.

        Raises:
            EmptySplitError: the mask or image folder is missing or empty.
        """
        img_dir = self.data_prefix.get('img_path', '')
        ann_dir = self.data_prefix.get('seg_map_path', '')
        self.skipped_files = []  # paths left out of the listing, with the reason
        mask_names = list_split_files(ann_dir, self.seg_map_suffix, self.backend_args,
                                      self.skipped_files)
        img_names = frozenset(list_split_files(img_dir, self.img_suffix, self.backend_args,
                                               self.skipped_files))
        parser = None
        if self.label_parser_cfg is not None:
            parser = build_label_parser(
                self.label_parser_cfg, num_classes=len(self._metainfo['cls_classes']))
        entries, problems = [], []
        for mask_name in mask_names:
            img_name = mask_name[:-len(self.seg_map_suffix)] + self.img_suffix
            seg_map_path = osp.join(ann_dir, mask_name)
            if img_name not in img_names:
                problems.append(FileProblem(
                    seg_map_path, f'pseudo-mask has no image {img_name!r} in {img_dir!r}'))
                continue
            img_path = osp.join(img_dir, img_name)
            try:
                gt_label = parser.parse(img_path) if parser is not None else None
            except PatchFileError as err:
                problems.append(FileProblem(err.filename, err.reason))
                continue
            entries.append(dict(
                img_path=img_path,
                seg_map_path=seg_map_path,
                gt_label=gt_label,
                label_map=self.label_map,
                reduce_zero_label=self.reduce_zero_label,
                seg_fields=[],
                num_classes=len(self._metainfo['classes']),
                binary_mask=False))
        return entries, problems

    def load_data_list(self) -> List[dict]:
        """Entries of every image/pseudo-mask pair; one error listing all bad files."""
        return checked_entries(
            self.list_entries(),
            f"PseudoLabelDataset at {self.data_prefix.get('seg_map_path')!r}")

"""Base dataset for image-level (patch) labels with optional pixel masks."""
import os.path as osp
from typing import List, Optional, Tuple, Union

from mmseg.datasets import BaseSegDataset

from epsam.fileio.errors import (EmptySplitError, FileProblem, NoPositivePatchError, PatchFileError,
                                 checked_entries)
from epsam.fileio.patch_io import labels_from_mask, list_split_files, read_patch_mask
from epsam.registry import DATASETS

from .label_parsers import BaseLabelParser, build_label_parser

LABEL_SOURCES = ('filename', 'mask', 'none')


@DATASETS.register_module()
class PatchClassificationDataset(BaseSegDataset):
    """Patches with a multi-hot image label and, for some patches, a mask.

    Images are listed from ``data_prefix['img_path']`` (not recursively); the
    mask of ``{stem}{img_suffix}`` is ``{stem}{seg_map_suffix}`` in
    ``data_prefix['seg_map_path']`` when that file exists, else ``None``.
    Each data-list entry holds ``img_path``, ``seg_map_path`` (or ``None``),
    ``gt_label`` (multi-hot list over ``cls_classes``, or ``None`` when
    ``label_from='none'``), ``label_map``, ``reduce_zero_label``,
    ``seg_fields``, plus ``num_classes`` (class indices valid in the masks on
    disk) and ``binary_mask`` (masks are 0/255 or 0/1), read by
    ``LoadPatchAnnotations``.

    Subclasses set ``METAINFO`` (``classes``, ``palette``, ``cls_classes``,
    ``background_index``), ``LABEL_PARSER`` and ``BINARY_MASKS``.

    Args:
        label_parser: Parser config or object; ``None`` uses ``LABEL_PARSER``.
        label_from: Where image labels come from: ``'filename'`` (the parser),
            ``'mask'`` (classes present in the mask; every image then needs a
            mask) or ``'none'`` (labels unknown, ``gt_label=None``).
        only_positive: Keep only patches whose label has a 1 (EP-SAM makes
            masks for positive patches only).
        require_masks: Every patch with a positive or unknown label must have
            a mask (evaluation splits); negative patches may lack one (their
            mask is all background).
        img_suffix: Image file suffix.
        seg_map_suffix: Mask file suffix.
        **kwargs: Passed to :class:`mmseg.datasets.BaseSegDataset`
            (``data_root``, ``data_prefix``, ``pipeline``, ``metainfo``, ...).
    """

    METAINFO: dict = dict()
    LABEL_PARSER: Optional[dict] = None
    BINARY_MASKS: bool = False

    def __init__(self,
                 label_parser: Union[dict, BaseLabelParser, None] = None,
                 label_from: str = 'filename',
                 only_positive: bool = False,
                 require_masks: bool = False,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 **kwargs) -> None:
        if label_from not in LABEL_SOURCES:
            raise ValueError(f'label_from must be one of {LABEL_SOURCES}, got {label_from!r}')
        if only_positive and label_from == 'none':
            raise ValueError("only_positive=True needs labels; label_from='none' gives none")
        self.label_parser_cfg = label_parser if label_parser is not None else self.LABEL_PARSER
        self.label_from = label_from
        self.only_positive = only_positive
        self.require_masks = require_masks
        self.skipped_files: List[FileProblem] = []
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)

    # --- metainfo helpers ---------------------------------------------------
    @property
    def cls_classes(self) -> Tuple[str, ...]:
        """Classes of the image-level label, in label order."""
        names = self._metainfo.get('cls_classes')
        if names is None:
            raise ValueError(f'{type(self).__name__}: metainfo has no "cls_classes"')
        return tuple(names)

    @property
    def mask_num_classes(self) -> int:
        """Number of class indices valid in the masks on disk (before ``label_map``)."""
        if self.label_map:
            return max(self.label_map) + 1
        return len(self._metainfo['classes'])

    def build_label_parser(self) -> BaseLabelParser:
        """The parser that reads image labels from file names."""
        if self.label_parser_cfg is None:
            raise ValueError(f'{type(self).__name__} has no label parser; pass label_parser=')
        return build_label_parser(self.label_parser_cfg, num_classes=len(self.cls_classes))

    # --- listing ------------------------------------------------------------
    def list_entries(self) -> Tuple[List[dict], List[FileProblem]]:
        """List every patch with its label and mask, collecting problems.

        Paths left out of the listing (dangling links, folders, other or
        differently cased suffixes) are logged once per folder and kept in
        :attr:`skipped_files`.

        Returns:
            The data-list entries of the good patches and one
            :class:`FileProblem` per bad file (unparsable label, missing
            required mask, mask without an image, mask that cannot give a label).

        Raises:
            EmptySplitError: the image folder is missing or holds no image,
                or a required mask folder is missing.
            NoPositivePatchError: masks are required but every patch is
                negative and the mask folder is empty or missing.
        """
        img_dir = self.data_prefix.get('img_path', '')
        ann_dir = self.data_prefix.get('seg_map_path') or None
        self.skipped_files = []
        img_names = list_split_files(img_dir, self.img_suffix, self.backend_args,
                                     self.skipped_files)
        mask_names = self._list_masks(ann_dir)
        parser = self.build_label_parser() if self.label_from == 'filename' else None
        entries, problems, used_masks = [], [], set()
        for name in img_names:
            img_path = osp.join(img_dir, name)
            mask_name = name[:-len(self.img_suffix)] + self.seg_map_suffix
            seg_map_path = osp.join(ann_dir, mask_name) if mask_name in mask_names else None
            used_masks.add(mask_name)
            try:
                gt_label = self._label_of(img_path, seg_map_path, parser)
            except PatchFileError as err:
                problems.append(FileProblem(err.filename, err.reason))
                continue
            if self.require_masks and seg_map_path is None and (
                    gt_label is None or any(gt_label)):
                problems.append(FileProblem(
                    img_path, f'no mask {mask_name!r} in {ann_dir!r} (require_masks=True)'))
                continue
            entries.append(self._make_entry(img_path, seg_map_path, gt_label))
        for mask_name in sorted(mask_names - used_masks):
            problems.append(FileProblem(osp.join(ann_dir, mask_name),
                                        f'mask has no image in {img_dir!r}'))
        self._check_positives(entries, problems, ann_dir, mask_names)
        return entries, problems

    def _list_masks(self, ann_dir: Optional[str]) -> frozenset:
        needs_masks = self.require_masks or self.label_from == 'mask'
        if ann_dir is None:
            if needs_masks:
                raise ValueError(
                    f'{type(self).__name__}: require_masks / label_from="mask" need '
                    "data_prefix['seg_map_path']")
            return frozenset()
        try:
            return frozenset(list_split_files(ann_dir, self.seg_map_suffix, self.backend_args,
                                              self.skipped_files))
        except EmptySplitError:
            if self.label_from == 'mask':
                raise
            return frozenset()  # e.g. a split with only negative patches

    def _check_positives(self, entries: List[dict], problems: List[FileProblem],
                         ann_dir: Optional[str], mask_names: frozenset) -> None:
        """Raise :class:`NoPositivePatchError` for a required mask folder without masks."""
        if not self.require_masks or mask_names or problems:
            return
        if all(entry['gt_label'] is not None and not any(entry['gt_label'])
               for entry in entries):
            raise NoPositivePatchError(self.data_prefix.get('img_path', ''), self.img_suffix,
                                       len(entries), ann_dir)

    def _label_of(self, img_path: str, seg_map_path: Optional[str],
                  parser: Optional[BaseLabelParser]) -> Optional[List[int]]:
        if self.label_from == 'none':
            return None
        if self.label_from == 'filename':
            return parser.parse(img_path)
        if seg_map_path is None:
            raise PatchFileError(img_path, "label_from='mask' but the image has no mask")
        mask = read_patch_mask(
            seg_map_path, binary=self.BINARY_MASKS, num_classes=self.mask_num_classes,
            ignore_index=self.ignore_index, backend_args=self.backend_args)
        classes = list(self._metainfo['classes'])
        if self.label_map:  # masks on disk use the class order of METAINFO
            classes = list(self.METAINFO['classes'])
        return labels_from_mask(mask, classes, self.cls_classes)

    def _make_entry(self, img_path: str, seg_map_path: Optional[str],
                    gt_label: Optional[List[int]]) -> dict:
        return dict(
            img_path=img_path,
            seg_map_path=seg_map_path,
            gt_label=gt_label,
            label_map=self.label_map,
            reduce_zero_label=self.reduce_zero_label,
            seg_fields=[],
            num_classes=self.mask_num_classes,
            binary_mask=self.BINARY_MASKS)

    # --- BaseDataset hooks ----------------------------------------------------
    def load_data_list(self) -> List[dict]:
        """Entries of every patch; one error listing all bad files if any."""
        return checked_entries(self.list_entries(),
                               f"{type(self).__name__} at {self.data_prefix.get('img_path')!r}")

    def filter_data(self) -> List[dict]:
        """Apply ``only_positive``."""
        if not self.only_positive:
            return self.data_list
        kept = [entry for entry in self.data_list if any(entry['gt_label'])]
        if not kept:
            raise EmptySplitError(self.data_prefix.get('img_path', ''), self.img_suffix,
                                  'no positive patch (only_positive=True)')
        return kept

    def get_cat_ids(self, idx: int) -> List[int]:
        """Indices into ``cls_classes`` of the classes present in patch ``idx``."""
        gt_label = self.get_data_info(idx)['gt_label'] or []
        return [i for i, value in enumerate(gt_label) if value]

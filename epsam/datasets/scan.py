"""Scan a dataset for bad files, reporting all of them at once."""
import copy
from dataclasses import dataclass, field
from typing import List, Optional, Tuple, Union

from mmengine.config import Config, ConfigDict

from epsam.fileio.errors import DatasetFilesError, FileProblem, PatchFileError, format_problems
from epsam.fileio.patch_io import check_mask_size, read_patch_image, read_patch_mask
from epsam.registry import DATASETS


@dataclass
class ScanReport:
    """What :func:`scan_dataset` found.

    Args:
        where: The image folder scanned.
        num_images: Images read.
        num_masks: Masks read.
        problems: Every bad file with its problem (labels, images, masks,
            masks without an image, images without a required mask).
        skipped: Every path the listing left out, with the reason (dangling
            link, folder, other suffix or suffix case); not counted as bad.
    """

    where: str
    num_images: int = 0
    num_masks: int = 0
    problems: List[FileProblem] = field(default_factory=list)
    skipped: List[FileProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no file is bad."""
        return not self.problems

    def raise_if_bad(self) -> None:
        """Raise :class:`DatasetFilesError` listing every bad file, if any."""
        if self.problems:
            raise DatasetFilesError(self.problems, self.where)

    def __str__(self) -> str:
        head = (f'{self.where}: {self.num_images} image(s), {self.num_masks} mask(s), '
                f'{len(self.problems)} bad file(s), {len(self.skipped)} skipped path(s)')
        lines = [head]
        if self.problems:
            lines.append(format_problems(self.problems, max_shown=50))
        if self.skipped:
            lines += ['skipped (not part of the dataset):',
                      format_problems(self.skipped, max_shown=50)]
        return '\n'.join(lines)


DatasetOrCfg = Union[object, dict, Config, ConfigDict]


def _build_lazily(cfg: Union[dict, Config, ConfigDict]):
    """Build a dataset config (or a dataloader config's ``dataset``) without listing files."""
    cfg = copy.deepcopy(dict(cfg))
    if 'dataset' in cfg and 'type' not in cfg:
        cfg = dict(cfg['dataset'])
    cfg['lazy_init'] = True
    cfg['pipeline'] = []  # scanning reads files itself
    return DATASETS.build(cfg)


def _entries_of(dataset) -> Tuple[List[dict], List[FileProblem], List[FileProblem]]:
    if hasattr(dataset, 'list_entries'):
        entries, problems = dataset.list_entries()
        return entries, problems, list(getattr(dataset, 'skipped_files', []))
    dataset.full_init()  # other mmseg datasets: their own listing
    return [dataset.get_data_info(i) for i in range(len(dataset))], [], []


def scan_dataset(dataset_or_cfg: DatasetOrCfg,
                 binary: Optional[bool] = None,
                 backend_args: Optional[dict] = None) -> ScanReport:
    """Read every image and mask of a dataset once and report every bad file.

    Reported: image labels that cannot be parsed, missing required masks,
    unreadable / truncated / empty / grayscale / 16-bit / transparent images,
    masks that cannot be decoded, masks with values outside the classes,
    masks whose size differs from their image and masks without an image. Paths
    the listing leaves out (see :mod:`epsam.fileio.listing`) are listed in
    ``skipped``.

    Args:
        dataset_or_cfg: A built dataset, a dataset config, or a dataloader
            config with a ``dataset`` key.
        binary: Read masks as binary 0/255 or 0/1; ``None`` uses each entry's
            ``binary_mask``.
        backend_args: mmengine file backend arguments.

    Raises:
        EmptySplitError: the split lists no image (naming folder and suffix).
    """
    dataset = (_build_lazily(dataset_or_cfg)
               if isinstance(dataset_or_cfg, (dict, Config, ConfigDict)) else dataset_or_cfg)
    entries, problems, skipped = _entries_of(dataset)
    where = f"{type(dataset).__name__} at {dataset.data_prefix.get('img_path')!r}"
    report = ScanReport(where=where, problems=list(problems), skipped=skipped)
    ignore_index = getattr(dataset, 'ignore_index', 255)
    for entry in entries:
        report.num_images += 1
        try:
            image_shape = read_patch_image(entry['img_path'], backend_args).shape
        except PatchFileError as err:
            report.problems.append(FileProblem(err.filename, err.reason))
            image_shape = None
        seg_map_path = entry.get('seg_map_path')
        if not seg_map_path:
            continue
        report.num_masks += 1
        entry_binary = binary if binary is not None else entry.get('binary_mask', False)
        num_classes = entry.get('num_classes')
        if num_classes is not None and entry.get('reduce_zero_label'):
            num_classes += 1  # raw masks keep 0 for "ignore" and 1..N for the classes
        try:
            mask = read_patch_mask(seg_map_path, binary=entry_binary, num_classes=num_classes,
                                   ignore_index=ignore_index, backend_args=backend_args)
            if image_shape is not None:
                check_mask_size(mask.shape, image_shape, seg_map_path, entry['img_path'])
        except PatchFileError as err:
            report.problems.append(FileProblem(err.filename, err.reason))
    return report

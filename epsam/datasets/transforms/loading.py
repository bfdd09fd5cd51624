"""Loading patch images and masks with checks that name the bad file."""
import logging
from typing import Optional

import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmengine.logging import print_log
from mmseg.datasets.transforms import LoadAnnotations

from epsam.fileio.errors import PatchFileError
from epsam.fileio.patch_io import check_mask_size, read_patch_image, read_patch_mask
from epsam.registry import TRANSFORMS


@TRANSFORMS.register_module()
class LoadPatchImage(LoadImageFromFile):
    """Load an RGB patch as a BGR uint8 array (OpenMMLab convention).

    Unlike mmcv's ``LoadImageFromFile``, a bad file raises
    :class:`~epsam.fileio.errors.PatchFileError` naming it: missing, empty,
    truncated or undecodable files, grayscale and 2-channel images, 16-bit
    images (never rescaled silently) and RGBA with transparent pixels. A fully
    opaque alpha channel is dropped.

    Required keys: ``img_path``. Added keys: ``img`` (H, W, 3), ``img_shape``,
    ``ori_shape``.

    Args:
        to_float32: Return float32 (values still 0-255) instead of uint8.
        ignore_empty: Return ``None`` for a bad file instead of raising
            (mmengine then picks another sample in training). Every skip is
            logged as a warning naming the file and the problem, with the
            running count of skipped files (``skipped`` attribute).
        backend_args: mmengine file backend arguments.
    """

    def __init__(self,
                 to_float32: bool = False,
                 ignore_empty: bool = False,
                 *,
                 backend_args: Optional[dict] = None) -> None:
        super().__init__(to_float32=to_float32, ignore_empty=ignore_empty,
                         backend_args=backend_args)
        self.skipped = 0

    def transform(self, results: dict) -> Optional[dict]:
        """Read ``results['img_path']``."""
        try:
            img = read_patch_image(results['img_path'], self.backend_args)
        except PatchFileError as err:
            if self.ignore_empty:
                self.skipped += 1
                print_log(f'LoadPatchImage: skipped {err} (ignore_empty=True; '
                          f'{self.skipped} file(s) skipped so far by this loader)',
                          logger='current', level=logging.WARNING)
                return None
            raise
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results


@TRANSFORMS.register_module()
class LoadPatchAnnotations(LoadAnnotations):
    """Load a patch mask of class indices, checking values and size.

    Binary masks (0/255 or 0/1, Camelyon) become 0/1. Palette-index masks are
    read as indices. Values outside ``0..num_classes-1`` other than
    ``ignore_index`` raise an error naming the file and the bad values; so does
    a mask whose size differs from the image's (load the image first).
    mmseg's ``reduce_zero_label`` and ``label_map`` are applied afterwards, as
    in ``LoadAnnotations``.

    Required keys: ``seg_map_path`` (may be ``None``), ``seg_fields``,
    ``reduce_zero_label``; optional ``label_map``, ``num_classes``,
    ``binary_mask`` (set by epsam datasets), ``ori_shape``.
    Added keys: ``gt_seg_map`` (H, W) uint8.

    Args:
        binary: Read 0/255 or 0/1 masks as 0/1; ``None`` uses the entry's
            ``binary_mask`` (``False`` when absent).
        num_classes: Valid class indices on disk; ``None`` uses the entry's
            ``num_classes`` (no range check when absent).
        ignore_index: Value allowed besides the classes (unlabelled pixels).
        missing_mask_value: For a patch without mask (``seg_map_path`` is
            ``None``): ``None`` adds no ``gt_seg_map``; an int fills a mask of
            the image size with it (e.g. 0 for negative Camelyon patches).
        backend_args: mmengine file backend arguments.
    """

    def __init__(self,
                 binary: Optional[bool] = None,
                 num_classes: Optional[int] = None,
                 ignore_index: int = 255,
                 missing_mask_value: Optional[int] = None,
                 backend_args: Optional[dict] = None) -> None:
        super().__init__(backend_args=backend_args)
        self.binary = binary
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.missing_mask_value = missing_mask_value

    def transform(self, results: dict) -> dict:
        """Load the mask (or fill one in for a patch without mask)."""
        results.setdefault('seg_fields', [])
        if results.get('seg_map_path') is not None:
            self._load_seg_map(results)
        elif self.missing_mask_value is not None:
            if 'img_shape' not in results:
                raise KeyError(f"{results.get('img_path')}: missing_mask_value needs the "
                               'image loaded first (put LoadPatchImage before '
                               'LoadPatchAnnotations)')
            height, width = results['img_shape'][:2]
            results['gt_seg_map'] = np.full((height, width), self.missing_mask_value, np.uint8)
            results['seg_fields'].append('gt_seg_map')
        return results

    def _load_seg_map(self, results: dict) -> None:
        path = results['seg_map_path']
        binary = self.binary if self.binary is not None else results.get('binary_mask', False)
        num_classes = (self.num_classes
                       if self.num_classes is not None else results.get('num_classes'))
        reduce_zero_label = bool(results.get('reduce_zero_label', False))
        if num_classes is not None and reduce_zero_label:
            num_classes += 1  # raw masks keep 0 for "ignore" and 1..N for the classes
        mask = read_patch_mask(path, binary=binary, num_classes=num_classes,
                               ignore_index=self.ignore_index, backend_args=self.backend_args)
        if 'ori_shape' in results:
            check_mask_size(mask.shape, results['ori_shape'], path, results.get('img_path'))
        if reduce_zero_label:
            mask = mask.copy()
            mask[mask == 0] = 255
            mask = mask - 1
            mask[mask == 254] = 255
        if results.get('label_map'):
            original = mask.copy()
            for old_id, new_id in results['label_map'].items():
                mask[original == old_id] = new_id
        results['gt_seg_map'] = mask
        results['seg_fields'].append('gt_seg_map')

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(binary={self.binary}, num_classes={self.num_classes}, '
                f'ignore_index={self.ignore_index}, '
                f'missing_mask_value={self.missing_mask_value})')

"""EP-SAM's evaluation: smoothed foreground Dice and IoU per image, averaged."""
import csv
import logging
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from prettytable import PrettyTable

from epsam.registry import METRICS

from .functional import DEFAULT_SMOOTH, foreground_counts, foreground_mask, smoothed_dice_iou
from .sample_maps import read_pred_and_gt, sample_name

_MISSING_GT_CHOICES = ('empty', 'skip', 'error')
#: Columns of the per-image CSV, in order.
CSV_COLUMNS = ('img_path', 'Dice', 'IoU', 'intersection', 'pred_pixels', 'gt_pixels',
               'valid_pixels', 'averaged')


@METRICS.register_module()
class PerImageDiceMetric(BaseMetric):
    """Per-image foreground Dice and IoU with smoothing, averaged over images.

    For each image, with ``P`` the predicted and ``G`` the ground-truth
    foreground (pixels whose ground truth is ``ignore_index`` removed from
    both), ``Dice = (2|P∩G| + s) / (|P| + |G| + s)`` and
    ``IoU = (|P∩G| + s) / (|P∪G| + s)``. The reported ``Dice`` and ``IoU`` are
    the means of these per-image scores, in **percent** (0-100, like mmseg's
    ``IoUMetric``), not rounded. An image with no foreground in both masks
    scores 100; an image whose pixels are all ignored is never averaged.

    Output keys: ``Dice``, ``IoU`` (percent) and ``num_images`` (how many
    images were averaged). Per-image values stay available after evaluation in
    :attr:`per_image` (list of dicts with the :data:`CSV_COLUMNS` keys) and,
    if ``per_image_csv`` is set, in that CSV file (Dice/IoU in percent).

    Args:
        foreground_index (int | Sequence[int], optional): Label index (or
            indices) counted as foreground. None: every class except the
            background index.
        background_index (int, optional): Background class used when
            ``foreground_index`` is None. None: ``dataset_meta['background_index']``.
        positive_only (bool): Average only over positive images (ground truth
            has foreground), as EP-SAM does. False: every image with at least
            one non-ignored pixel.
        smooth (float): Smoothing ``s`` (EP-SAM: 1e-3), > 0.
        ignore_index (int): Ground-truth value of unlabelled pixels.
        missing_gt (str): What to do with a sample that has no ``gt_sem_seg``
            (e.g. Camelyon negatives, which ship without a mask): ``'empty'``
            treats it as all background (refused if its ``gt_label`` is
            positive), ``'skip'`` leaves it out, ``'error'`` raises.
        per_image_csv (str, optional): Path of a CSV written at the end of
            each evaluation with one row per image.
        collect_device (str): ``'cpu'`` or ``'gpu'``, for distributed runs.
        prefix (str, optional): Prefix of the output keys.
        collect_dir (str, optional): Temporary folder for ``collect_device='cpu'``.
    """

    def __init__(self,
                 *,
                 foreground_index: Optional[Union[int, Sequence[int]]] = None,
                 background_index: Optional[int] = None,
                 positive_only: bool = True,
                 smooth: float = DEFAULT_SMOOTH,
                 ignore_index: int = 255,
                 missing_gt: str = 'empty',
                 per_image_csv: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        if smooth <= 0:
            raise ValueError(f'PerImageDiceMetric: smooth must be > 0, got {smooth}')
        if missing_gt not in _MISSING_GT_CHOICES:
            raise ValueError(f'PerImageDiceMetric: missing_gt must be one of '
                             f'{_MISSING_GT_CHOICES}, got {missing_gt!r}')
        if isinstance(foreground_index, int):
            foreground_index = [foreground_index]
        if foreground_index is not None:
            foreground_index = [int(i) for i in foreground_index]
            if not foreground_index or ignore_index in foreground_index:
                raise ValueError('PerImageDiceMetric: foreground_index must name at least one '
                                 f'class and not the ignore index, got {foreground_index}')
        self.foreground_index = foreground_index
        self.background_index = background_index
        self.positive_only = positive_only
        self.smooth = smooth
        self.ignore_index = ignore_index
        self.missing_gt = missing_gt
        self.per_image_csv = per_image_csv
        #: Per-image rows of the last evaluation (see :data:`CSV_COLUMNS`).
        self.per_image: List[Dict[str, Any]] = []

    def _resolve_background(self) -> int:
        if self.background_index is not None:
            return self.background_index
        meta = self.dataset_meta or {}
        background = meta.get('background_index')
        if background is None:
            raise ValueError(
                'PerImageDiceMetric: set foreground_index or background_index, or evaluate a '
                "dataset whose metainfo has 'background_index' (dataset_meta has "
                f"{sorted(meta.keys())}, background_index={background})")
        return int(background)

    def _foreground(self, label: torch.Tensor) -> torch.Tensor:
        if self.foreground_index is not None:
            return foreground_mask(label, foreground_indices=self.foreground_index)
        return foreground_mask(label, background_index=self._resolve_background(),
                               ignore_index=self.ignore_index)

    def _empty_gt(self, sample: Dict[str, Any], pred: torch.Tensor) -> Optional[torch.Tensor]:
        """Ground truth for a sample without ``gt_sem_seg``, per ``missing_gt``."""
        name = sample_name(sample)
        if self.missing_gt == 'error':
            raise KeyError(f'PerImageDiceMetric: data sample {name} has no gt_sem_seg '
                           "(set missing_gt='empty' or 'skip' to accept such samples)")
        if self.missing_gt == 'skip':
            return None
        gt_label = sample.get('gt_label')
        if gt_label is not None and bool((torch.as_tensor(gt_label) > 0).any()):
            raise ValueError(f'PerImageDiceMetric: data sample {name} has a positive gt_label '
                             f'{torch.as_tensor(gt_label).tolist()} but no gt_sem_seg; its mask '
                             'cannot be assumed empty')
        return torch.zeros(pred.shape, dtype=torch.bool)

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Store the pixel counts of each image (no masks are kept).

        Args:
            data_batch (Any): The batch from the dataloader (unused).
            data_samples (Sequence[dict]): Model outputs as dicts, each with
                ``pred_sem_seg`` and usually ``gt_sem_seg`` (``(1, H, W)``).
        """
        for sample in data_samples:
            pred, gt = read_pred_and_gt(sample, gt_required=False)
            pred = pred.cpu()
            if gt is None:
                gt_fg = self._empty_gt(sample, pred)
                if gt_fg is None:
                    continue
                valid = torch.ones(pred.shape, dtype=torch.bool)
            else:
                gt = gt.cpu()
                valid = gt != self.ignore_index
                gt_fg = self._foreground(gt)
            inter, pred_area, gt_area = foreground_counts(self._foreground(pred), gt_fg, valid)
            self.results.append(
                dict(img_path=sample_name(sample), intersection=inter, pred_pixels=pred_area,
                     gt_pixels=gt_area, valid_pixels=int(valid.sum())))

    def _score_rows(self, results: List[dict]) -> List[Dict[str, Any]]:
        rows = []
        for counts in results:
            dice, iou = smoothed_dice_iou(counts['intersection'], counts['pred_pixels'],
                                          counts['gt_pixels'], smooth=self.smooth)
            averaged = counts['valid_pixels'] > 0 and (counts['gt_pixels'] > 0
                                                       or not self.positive_only)
            rows.append(dict(counts, Dice=100 * dice, IoU=100 * iou, averaged=averaged))
        return rows

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Average the per-image scores.

        Args:
            results (list[dict]): Pixel counts of every image.

        Returns:
            dict: ``Dice`` and ``IoU`` in percent (NaN if no image qualifies)
            and ``num_images``, the number of images averaged.
        """
        self.per_image = self._score_rows(results)
        dice, iou, num = summarise(self.per_image)
        if num == 0:
            print_log(f'PerImageDiceMetric: no image qualified for averaging out of '
                      f'{len(results)} (positive_only={self.positive_only}); Dice/IoU are NaN',
                      logger='current', level=logging.WARNING)
        if self.per_image_csv:
            self._write_csv(self.per_image_csv)
        self._log_table(dice, iou, num, len(results))
        return dict(Dice=dice, IoU=iou, num_images=num)

    def _foreground_description(self) -> str:
        if self.foreground_index is not None:
            return f'classes {self.foreground_index}'
        background = self.background_index
        if background is None:
            background = (self.dataset_meta or {}).get('background_index')
        return f'all but background {background}'

    def _log_table(self, dice: float, iou: float, num: int, total: int) -> None:
        table = PrettyTable()
        table.add_column('protocol', ['per-image (EP-SAM)'])
        table.add_column('foreground', [self._foreground_description()])
        table.add_column('images', ['positive only' if self.positive_only else 'all'])
        table.add_column('averaged', [f'{num}/{total}'])
        table.add_column('smooth', [f'{self.smooth:g}'])
        table.add_column('Dice (%)', [f'{dice:.2f}'])
        table.add_column('IoU (%)', [f'{iou:.2f}'])
        print_log('\n' + table.get_string(), logger='current')

    def _write_csv(self, path: str) -> None:
        folder = osp.dirname(osp.abspath(path))
        os.makedirs(folder, exist_ok=True)
        with open(path, 'w', newline='') as handle:
            writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            for row in self.per_image:
                writer.writerow({key: _csv_value(row[key]) for key in CSV_COLUMNS})
        print_log(f'PerImageDiceMetric: per-image scores written to {path}', logger='current')


def _csv_value(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        return f'{value:.6f}'
    return value


def summarise(rows: Sequence[Dict[str, Any]]) -> Tuple[float, float, int]:
    """Mean Dice and IoU (percent) of the averaged rows of :attr:`per_image`.

    Args:
        rows (Sequence[dict]): Rows as in :attr:`PerImageDiceMetric.per_image`.

    Returns:
        tuple: ``(dice, iou, num_images)``; NaN means when no row is averaged.
    """
    kept = [row for row in rows if row['averaged']]
    if not kept:
        return float('nan'), float('nan'), 0
    return (sum(r['Dice'] for r in kept) / len(kept), sum(r['IoU'] for r in kept) / len(kept),
            len(kept))

"""Multi-class WSSS mIoU under a named background protocol."""
from typing import Any, Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from prettytable import PrettyTable

from epsam.registry import METRICS

from .functional import (class_accuracy, confusion_matrix, dice_from_confusion, exclude_gt_class,
                         frequency_weighted_iou, iou_from_confusion, nanmean_over, pixel_accuracy)
from .sample_maps import read_pred_and_gt, sample_name

#: The background protocols of the histopathology WSSS literature.
PROTOCOLS = ('exclude_background', 'full_matrix')


@METRICS.register_module()
class WSSSIoUMetric(BaseMetric):
    """mIoU, FwIoU, Dice and pixel accuracy of multi-class WSSS, per protocol.

    Codebases in the field treat the background class differently, so every
    result is labelled with its ``protocol``:

    * ``'exclude_background'`` (WSSS-Tissue, MLPS): pixels whose ground truth
      is background are dropped (tissue pixels predicted as background still
      count as errors); means run over the tissue classes.
    * ``'full_matrix'`` (TPRO): background stays in the confusion matrix
      (its IoU is reported too); means run over the tissue classes.

    Ground-truth pixels equal to ``ignore_index`` are always dropped. With no
    background class (``background_index`` None in the metainfo) both
    protocols count every class.

    Outputs, in **percent** (like mmseg's ``IoUMetric``) and not rounded:
    ``aAcc`` (pixel accuracy over counted pixels), ``mIoU`` and ``mDice``
    (means over tissue classes), ``FwIoU`` (IoU weighted by each tissue class's
    share of ground-truth pixels) and ``IoU.<class>`` for every reported
    class. A class absent from both ground truth and prediction has IoU NaN
    and is left out of the means. The keys are prefixed with the protocol
    (``exclude_background/mIoU``) unless ``prefix`` is given (``prefix=''``
    drops it); the logged tables name the protocol too.

    Everything is computed from one accumulated ``(K, K)`` confusion matrix,
    so memory does not grow with the number of images.

    Args:
        protocol (str): ``'exclude_background'`` or ``'full_matrix'``.
        background_index (int, optional): Background class index. None:
            ``dataset_meta['background_index']``.
        ignore_index (int): Ground-truth value of unlabelled pixels.
        collect_device (str): ``'cpu'`` or ``'gpu'``, for distributed runs.
        prefix (str, optional): Key prefix; defaults to ``protocol``.
        collect_dir (str, optional): Temporary folder for ``collect_device='cpu'``.
    """

    def __init__(self,
                 *,
                 protocol: str,
                 background_index: Optional[int] = None,
                 ignore_index: int = 255,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f'WSSSIoUMetric: protocol must be one of {PROTOCOLS}, '
                             f'got {protocol!r}')
        super().__init__(collect_device=collect_device,
                         prefix=protocol if prefix is None else prefix,
                         collect_dir=collect_dir)
        self.protocol = protocol
        self.background_index = background_index
        self.ignore_index = ignore_index

    def _class_names(self) -> Sequence[str]:
        meta = self.dataset_meta or {}
        if not meta.get('classes'):
            raise ValueError("WSSSIoUMetric needs dataset_meta['classes'] (the segmentation "
                             f'classes in mask-index order); dataset_meta is {meta!r}')
        return tuple(meta['classes'])

    def _resolve_background(self, num_classes: int) -> Optional[int]:
        meta = self.dataset_meta or {}
        if self.background_index is not None:
            background = self.background_index
        elif 'background_index' in meta:
            background = meta['background_index']
        else:
            raise ValueError("WSSSIoUMetric: set background_index or evaluate a dataset whose "
                             "metainfo has 'background_index' (use None there for a dataset "
                             f'without background); dataset_meta has {sorted(meta.keys())}')
        if background is not None and not 0 <= int(background) < num_classes:
            raise ValueError(f'WSSSIoUMetric: background_index {background} outside the '
                             f'{num_classes} classes {self._class_names()}')
        return None if background is None else int(background)

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Add each image's confusion matrix to the running total.

        ``self.results`` holds a single ``(K, K)`` matrix per process.

        Args:
            data_batch (Any): The batch from the dataloader (unused).
            data_samples (Sequence[dict]): Model outputs as dicts, each with
                ``pred_sem_seg`` and ``gt_sem_seg`` (``(1, H, W)``).
        """
        num_classes = len(self._class_names())
        for sample in data_samples:
            pred, gt = read_pred_and_gt(sample)
            try:
                conf = confusion_matrix(pred, gt, num_classes, ignore_index=self.ignore_index)
            except ValueError as error:
                raise ValueError(f'WSSSIoUMetric: data sample {sample_name(sample)}: {error}'
                                 ) from None
            if self.results:
                self.results[0] += conf
            else:
                self.results.append(conf)

    def compute_metrics(self, results: List[torch.Tensor]) -> Dict[str, float]:
        """Turn the summed confusion matrix into the protocol's metrics.

        Args:
            results (list[torch.Tensor]): One ``(K, K)`` matrix per process.

        Returns:
            dict: ``aAcc``, ``mIoU``, ``FwIoU``, ``mDice`` and ``IoU.<class>``,
            in percent.
        """
        names = self._class_names()
        num_classes = len(names)
        background = self._resolve_background(num_classes)
        conf = torch.zeros(num_classes, num_classes, dtype=torch.long)
        for part in results:
            conf += part.cpu().long()
        tissue = [c for c in range(num_classes) if c != background]
        if self.protocol == 'exclude_background' and background is not None:
            conf = exclude_gt_class(conf, background)
            reported = tissue
        else:
            reported = list(range(num_classes))
        iou = iou_from_confusion(conf)
        dice = dice_from_confusion(conf)
        metrics = dict(
            aAcc=100 * pixel_accuracy(conf),
            mIoU=100 * nanmean_over(iou, tissue),
            FwIoU=100 * frequency_weighted_iou(conf, tissue),
            mDice=100 * nanmean_over(dice, tissue))
        for c in reported:
            metrics[f'IoU.{names[c]}'] = 100 * float(iou[c])
        self._log_tables(metrics, conf, names, reported, background)
        return metrics

    def _log_tables(self, metrics: Dict[str, float], conf: torch.Tensor, names: Sequence[str],
                    reported: Sequence[int], background: Optional[int]) -> None:
        iou, dice, acc = iou_from_confusion(conf), dice_from_confusion(conf), class_accuracy(conf)
        gt_pixels = conf.sum(dim=1)
        per_class = PrettyTable()
        per_class.add_column('Class', [names[c] for c in reported])
        for title, values in (('IoU', iou), ('Dice', dice), ('Acc', acc)):
            per_class.add_column(title, [f'{100 * float(values[c]):.2f}' for c in reported])
        per_class.add_column('GT pixels', [int(gt_pixels[c]) for c in reported])
        summary = PrettyTable()
        summary.add_column('protocol', [self.protocol])
        summary.add_column('background',
                           ['none' if background is None else names[background]])
        for key in ('aAcc', 'mIoU', 'FwIoU', 'mDice'):
            summary.add_column(key, [f'{metrics[key]:.2f}'])
        print_log(f'WSSS results, protocol={self.protocol} (means over tissue classes):',
                  logger='current')
        print_log('\n' + per_class.get_string(), logger='current')
        print_log('\n' + summary.get_string(), logger='current')

"""How step 7 scores a method's predictions on the test split, per task.

A scoring turns ``stem -> prediction`` and ``stem -> truth`` into a
*partial* (what one process saw: per-image scores, or a confusion matrix),
then the partials of every rank into one metrics dict per protocol. The
evaluation loop (:mod:`.evaluation`) and the report (:mod:`.report`) are the
same for every task; a scoring names its protocols, its table columns and the
metrics it hands to the benchmark harness.

* :class:`ForegroundDiceScoring` (binary, EP-SAM's protocol): per-image
  foreground Dice and IoU (smoothing 1e-3), averaged over the positive
  patches, plus how many masks cover (nearly) the whole patch;
* :class:`ClassMapScoring` (multi-class): one confusion matrix over the
  split, read under both WSSS background protocols by
  :class:`~epsam.evaluation.metrics.WSSSIoUMetric`.
"""
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch

from epsam.benchmarking.harness import PER_IMAGE_PROTOCOL
from epsam.evaluation.metrics.functional import confusion_matrix, dice_iou_per_image
from epsam.evaluation.metrics.wsss_iou import PROTOCOLS, WSSSIoUMetric

Predictions = Dict[str, Optional[np.ndarray]]

#: A mask covering at least this fraction of its patch counts as "the whole patch".
WHOLE_PATCH_FRACTION = 0.95


class Column(NamedTuple):
    """One metric column of the results table: header, metrics key, cell format.

    ``fmt`` is a :meth:`str.format` pattern of the value and ``images`` (the
    number of test images).
    """
    header: str
    key: str
    fmt: str = '{value:.2f}'


# --- binary: per-image foreground Dice -------------------------------------------
def per_image_scores(predictions: Predictions,
                     truths: Dict[str, np.ndarray]) -> Dict[str, Tuple[float, float, float]]:
    """``stem -> (dice, iou, predicted fraction)`` of every image of ``truths``.

    A missing prediction counts as an empty mask. Each image's numbers depend
    on that image alone, so shards of a split score their images apart.
    """
    scores = {}
    for stem, truth in truths.items():
        pred = predictions.get(stem)
        pred = np.zeros_like(truth) if pred is None else pred
        dice, iou = dice_iou_per_image(torch.from_numpy(pred), torch.from_numpy(truth))
        scores[stem] = (float(dice), float(iou), float(np.mean(pred)))
    return scores


def summarise_scores(scores: Dict[str, Tuple[float, float, float]],
                     stems: Sequence[str]) -> Dict[str, float]:
    """:func:`score_masks`'s numbers from per-image scores, summed in ``stems``' order.

    The order is fixed (the split's item order), so scores gathered from any
    number of shards give the same bits as one process.
    """
    dices, ious, fractions = zip(*(scores[stem] for stem in stems))
    return dict(dice=100 * float(np.mean(dices)), iou=100 * float(np.mean(ious)),
                whole_patch_masks=int(sum(f >= WHOLE_PATCH_FRACTION for f in fractions)),
                mean_foreground=100 * float(np.mean(fractions)))


def score_masks(predictions: Predictions, truths: Dict[str, np.ndarray]) -> Dict[str, float]:
    """Mean Dice and IoU in percent, and how many masks cover (nearly) the whole patch.

    A missing prediction counts as an empty mask.

    Returns:
        ``dice``, ``iou`` (percent), ``whole_patch_masks`` (masks covering at
        least :data:`WHOLE_PATCH_FRACTION` of their patch) and
        ``mean_foreground`` (mean fraction of the patch predicted, percent).
    """
    return summarise_scores(per_image_scores(predictions, truths), list(truths))


def collapsed(metrics: Dict, images: int) -> bool:
    """Whether a mask predictor covers (nearly) the whole patch on most images."""
    return metrics.get('whole_patch_masks', 0) > images / 2


# --- multi-class: one confusion matrix, two protocols ---------------------------
def split_confusion(predictions: Predictions, truths: Dict[str, np.ndarray],
                    num_classes: int, background_index: int,
                    ignore_index: int = 255) -> torch.Tensor:
    """Summed ``(C, C)`` confusion matrix (rows = truth) over ``truths``' patches.

    Args:
        predictions: stem -> (H, W) class map (255 = undecided) or None.
        truths: stem -> (H, W) ground truth (``ignore_index`` pixels dropped).
        num_classes: Segmentation classes C, background included.
        background_index: Value that missing maps and undecided pixels take.
        ignore_index: Undecided / unlabelled value.
    """
    conf = torch.zeros(num_classes, num_classes, dtype=torch.long)
    for stem, truth in truths.items():
        pred = predictions.get(stem)
        if pred is None:
            pred = np.full_like(truth, background_index)
        elif pred.shape != truth.shape:
            raise ValueError(f'{stem}: class map {pred.shape} vs ground truth {truth.shape}')
        pred = np.where(pred == ignore_index, background_index, pred)
        conf += confusion_matrix(torch.from_numpy(pred.astype(np.int64)),
                                 torch.from_numpy(truth.astype(np.int64)), num_classes,
                                 ignore_index=ignore_index)
    return conf


def protocol_metrics(conf: torch.Tensor, classes: Sequence[str],
                     background_index: int) -> Dict[str, Dict[str, float]]:
    """protocol -> ``mIoU``, ``FwIoU``, ``Dice``, ``aAcc``, ``IoU.<class>`` (percent)."""
    out = {}
    for protocol in PROTOCOLS:
        metric = WSSSIoUMetric(protocol=protocol, background_index=background_index, prefix='')
        metric.dataset_meta = dict(classes=tuple(classes), background_index=background_index)
        values = metric.compute_metrics([conf])
        values['Dice'] = values.pop('mDice')
        out[protocol] = {k: float(v) for k, v in values.items()}
    return out


# --- the scorings ------------------------------------------------------------------
class Scoring:
    """How one task's predictions are scored; see the module docstring.

    Attributes:
        note: The protocols in one sentence, for the report.
    """

    note = ''

    def score(self, predictions: Predictions, truths: Dict[str, np.ndarray]) -> Any:
        """This process's partial of ``truths``' images (gathered over ranks)."""
        raise NotImplementedError

    def summarise(self, partials: Sequence[Any], stems: Sequence[str]) -> Dict[str, Dict]:
        """protocol -> metrics, from every rank's partial; ``stems``: the split's order."""
        raise NotImplementedError

    def collapsed(self, metrics: Dict, images: int) -> bool:
        """Whether a SAM row with ``metrics`` predicts the whole patch on most images."""
        return False

    def columns(self, rows: Sequence[Dict]) -> List[Column]:
        """The metric columns of the results table of ``rows``."""
        raise NotImplementedError

    def harness_metrics(self, metrics: Dict) -> Dict[str, float]:
        """The metrics a ``final_metrics.json`` entry carries for the benchmark harness."""
        return dict(metrics)


class ForegroundDiceScoring(Scoring):
    """EP-SAM's binary protocol: per-image foreground Dice/IoU over positive patches.

    Metrics (percent): ``dice``, ``iou``, ``mean_foreground``, and
    ``whole_patch_masks`` (masks covering at least
    :data:`WHOLE_PATCH_FRACTION` of their patch: a SAM doing that on most
    images is flagged as collapsed).
    """

    protocol = PER_IMAGE_PROTOCOL
    note = 'Protocol: per-image foreground Dice/IoU (smooth 1e-3), mean over positive patches.'

    def score(self, predictions: Predictions,
              truths: Dict[str, np.ndarray]) -> Dict[str, Tuple[float, float, float]]:
        return per_image_scores(predictions, truths)

    def summarise(self, partials: Sequence[Dict], stems: Sequence[str]) -> Dict[str, Dict]:
        merged: Dict = {}
        for part in partials:
            merged.update(part)
        return {self.protocol: summarise_scores(merged, stems)}

    def collapsed(self, metrics: Dict, images: int) -> bool:
        return collapsed(metrics, images)

    def columns(self, rows: Sequence[Dict]) -> List[Column]:
        return [Column('Dice (%)', 'dice'), Column('IoU (%)', 'iou'),
                Column('whole-patch masks', 'whole_patch_masks', '{value}/{images}')]

    def harness_metrics(self, metrics: Dict) -> Dict[str, float]:
        return dict(Dice=metrics['dice'], IoU=metrics['iou'])


class ClassMapScoring(Scoring):
    """Multi-class WSSS: one confusion matrix over the split, both background protocols.

    A patch a method gives no class map (no CAM: predicted negative; no
    prompt) counts as all background, and undecided pixels (255) count as
    background too.

    Args:
        classes: The segmentation classes, background included.
        background_index: The background class.
    """

    note = ('Protocols: exclude_background (ground-truth background pixels dropped) and '
            'full_matrix (background kept in the confusion matrix); means over the tissue '
            'classes; a patch without a class map and undecided (255) pixels count as '
            'background.')

    def __init__(self, classes: Sequence[str], background_index: int) -> None:
        self.classes = tuple(classes)
        self.background_index = background_index

    def score(self, predictions: Predictions, truths: Dict[str, np.ndarray]) -> torch.Tensor:
        return split_confusion(predictions, truths, len(self.classes), self.background_index)

    def summarise(self, partials: Sequence[torch.Tensor],
                  stems: Sequence[str]) -> Dict[str, Dict]:
        # Integer counts: the sum is the same in any order.
        return protocol_metrics(sum(partials), self.classes, self.background_index)

    def columns(self, rows: Sequence[Dict]) -> List[Column]:
        class_keys: List[str] = []
        for row in rows:
            class_keys += [k for k in row['metrics']
                           if k.startswith('IoU.') and k not in class_keys]
        return [Column(key, key) for key in ('mIoU', 'FwIoU', 'Dice', *class_keys)]

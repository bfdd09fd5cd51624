"""Step 7: score every method of a run on the test split, the same way for every task.

The rows, in order: the baselines a method must beat (binary: the whole
patch, the CAM's initial masks and the CAM at Otsu's threshold; multi-class:
the CAM class maps), then SAM prompted from the CAMs, untuned and after
each tuning iteration. The task (:mod:`.tasks`) supplies the test split, the
baselines' and SAM's predictions and the scoring (:mod:`.scoring`); this
module runs them, times them and builds one record, which :mod:`.report`
writes.

A row's ``train_seconds`` is everything spent to get that method: the
classifier's seconds for every CAM-based row, plus every tuning iteration
and pseudo-labelling up to the row's SAM. ``infer_seconds`` is the CAM step's
time for the CAM rows and the slowest rank's prediction time for a SAM row.

Under a launcher, a sharded task's ranks each predict and score their
batches of the split; the partial scores of every rank are merged in the
split's order, so every rank returns the numbers of one process.
"""
import logging
import time
from typing import Any, Dict, List, Optional, Sequence

from mmengine.logging import print_log

from .context import PipelineContext
from .scoring import WHOLE_PATCH_FRACTION
from .stage_names import CAM_STAGE
from .tasks import PipelineTask, TunedSam

#: The row of SAM prompted from the CAMs with its original weights.
UNTUNED_ROW = 'SAM + CAM prompts, untuned'


def _gather(ctx: PipelineContext, sharded: bool, value: Any) -> List[Any]:
    """Every rank's ``value`` for a sharded task; this process's alone otherwise."""
    return ctx.ranks.gather(value) if sharded else [value]


def _warn_collapse(ctx: PipelineContext, row: Dict, images: int, reference: Dict) -> None:
    print_log(f'[pipeline] COLLAPSE: {row["method"]} predicts at least '
              f'{WHOLE_PATCH_FRACTION:.0%} of the patch on {row["metrics"]["whole_patch_masks"]} '
              f'of {images} test images (Dice {row["metrics"]["dice"]:.2f} vs whole patch '
              f'{reference["metrics"]["dice"]:.2f})', logger='current', level=logging.WARNING)


def evaluate(ctx: PipelineContext, task: PipelineTask, tuned: Sequence[TunedSam],
             classifier_seconds: float) -> Dict:
    """Score every method of the run on the test split.

    Args:
        ctx: The pipeline context.
        task: The pipeline's task.
        tuned: ``(row name, SAM checkpoint, training seconds)`` per tuned SAM
            (empty when the task uses no SAM).
        classifier_seconds: Seconds spent training the classifier.

    Returns:
        The evaluation record: ``rows`` of (method, protocol, metrics,
        train / inference seconds, checkpoint), the scoring's note and what
        the report says of the SAM and the labels used.
    """
    test = task.test_split(ctx)
    scoring = task.scoring(ctx)
    images = len(test.stems)
    cam_seconds = ctx.ledger.record(CAM_STAGE)['seconds']
    rows: List[Dict] = []

    def add_rows(name: str, predictions: Dict, train_seconds: float, infer_seconds: float,
                 checkpoint: Optional[str] = None, baseline: bool = False) -> List[Dict]:
        partials = _gather(ctx, task.sharded, scoring.score(predictions, test.truths))
        added = [dict(method=name, protocol=protocol, metrics=metrics, baseline=baseline,
                      train_seconds=train_seconds, infer_seconds=infer_seconds,
                      checkpoint=checkpoint)
                 for protocol, metrics in scoring.summarise(partials, test.stems).items()]
        rows.extend(added)
        return added

    for baseline in task.baselines(ctx, test):
        add_rows(baseline.name, baseline.predictions,
                 classifier_seconds if baseline.uses_cams else 0.0,
                 cam_seconds if baseline.uses_cams else 0.0, baseline=True)
    if task.uses_sam:
        for name, checkpoint, seconds in [(UNTUNED_ROW, None, 0.0), *tuned]:
            start = time.time()
            predictions = task.sam_predictions(ctx, checkpoint, test)
            infer = max(_gather(ctx, task.sharded, time.time() - start))  # the slowest rank
            for row in add_rows(name, predictions, classifier_seconds + seconds, infer,
                                checkpoint):
                row['collapsed'] = scoring.collapsed(row['metrics'], images)
                if row['collapsed'] and ctx.ranks.is_main:
                    _warn_collapse(ctx, row, images, rows[0])
    return dict(split=ctx.cfg.test_split, images=images, image_kind=test.image_kind,
                title=task.title, protocol=scoring.note, rows=rows, use_sam=task.uses_sam,
                sam=ctx.sam_note if task.uses_sam else 'No SAM (CAM class maps only).',
                sam_label=ctx.sam_label if task.uses_sam else 'no SAM',
                stand_in_sam=task.uses_sam and ctx.stand_in_sam,
                pixel_labels_for_selection=ctx.uses_pixel_labels_for_selection,
                **task.record_fields(ctx))

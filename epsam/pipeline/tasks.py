"""What differs between the pipeline's tasks, behind one small interface.

:class:`~.runner.EPSAMPipeline` runs one stage sequence for every task
(classifier, CAMs, SAM tuning iteration 0, then pseudo-labels and tuning per
iteration, evaluation); a task says how each of those stages does its work:

* :class:`BinaryTask` (``task='binary'``, EP-SAM): one foreground class;
  CAMs, pseudo-labels and evaluation sharded over the ranks of a launcher;
* :class:`ClassMapTask` (``task='multiclass'``): the dataset's tissue classes;
  class maps, class-agnostic SAM tuning, per-class pseudo-labels merged into
  class maps, both WSSS protocols; CAMs, pseudo-labels and evaluation on rank
  0 (the trainings still run under DDP on every rank); ``use_sam=False``
  stops after the CAM class maps.
"""
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

from mmengine.config import Config

from epsam.apis import count_trainable_params

from . import multiclass_stages as mc
from . import stages
from .config_check import TASKS
from .context import PipelineContext
from .evaluation import evaluate_models
from .multiclass_evaluation import evaluate_class_maps
from .multiclass_report import write_class_results
from .report import write_pictures, write_results
from .stage_models import classifier_config, sam_model_config
from .stage_names import CAM_STAGE, EVALUATION_STAGE

__all__ = ['TunedSam', 'PipelineTask', 'BinaryTask', 'ClassMapTask', 'build_task']

#: ``(row name, SAM checkpoint, training seconds)`` of one tuned SAM.
TunedSam = Tuple[str, str, float]


class PipelineTask:
    """The task-specific work of the pipeline's stages.

    Args:
        cfg: The pipeline config.

    Attributes:
        sharded: Whether the CAM, pseudo-label and evaluation stages run on
            every rank of a launcher (their items sharded), or on rank 0 alone.
        split_labels: Whether each split's image labels come from where the
            config's ``split_labels`` says (file names, masks or predictions).
        initial_row: The evaluation's row name of the SAM tuned on the CAM masks.
        tuned_row: The row name of the SAM of iteration ``{iteration}``.
    """

    sharded = True
    split_labels = False
    initial_row = ''
    tuned_row = ''

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg

    @property
    def uses_sam(self) -> bool:
        """Whether SAM is tuned and evaluated (else the CAM masks are the method)."""
        return True

    def initial_masks(self, ctx: PipelineContext) -> str:
        """The folder SAM tuning iteration 0 trains on: the train split's CAM masks."""
        return osp.join(ctx.stage_dir(CAM_STAGE), ctx.cfg.train_split, 'masks')

    def generate_cams(self, ctx: PipelineContext) -> Dict:
        """Step 2: CAMs and initial masks of ``cam_splits``; returns the stage record."""
        return stages.generate_split_cams(ctx, split_labels=self.split_labels,
                                          sharded=self.sharded)

    def tune(self, ctx: PipelineContext, iteration: int, mask_dir: str) -> Dict:
        """Step 4 (iteration 0) or step 6: SAM tuned from its original weights on ``mask_dir``."""
        raise NotImplementedError

    def make_pseudo_labels(self, ctx: PipelineContext, iteration: int,
                           checkpoint: str) -> Dict:
        """Step 5: pseudo-labels of the train split from the SAM of ``checkpoint``."""
        raise NotImplementedError

    def tuned_seconds(self, spent: float, pseudo: float, tuning: Optional[float]) -> float:
        """The training seconds of an iteration's row.

        Args:
            spent: The previous row's seconds.
            pseudo: Seconds of this iteration's pseudo-labels.
            tuning: Seconds of this iteration's tuning (``None``: not tuned,
                no pseudo-label was kept).
        """
        raise NotImplementedError

    def evaluate(self, ctx: PipelineContext, tuned: Sequence[TunedSam],
                 classifier_seconds: float) -> Dict:
        """Step 7: score every method on the test split; returns the evaluation record."""
        raise NotImplementedError

    def report(self, ctx: PipelineContext, record: Dict, tuned: Sequence[TunedSam]) -> Dict:
        """Write the reports of ``record`` (rank 0); returns what the record gains (``table``)."""
        raise NotImplementedError


class BinaryTask(PipelineTask):
    """EP-SAM's binary protocol: one foreground class (``task='binary'``).

    A row's training seconds are its iteration's own (pseudo-labels and
    tuning; 0 for an iteration that kept no pseudo-label).
    """

    initial_row = 'SAM tuned on CAM masks (iter 0)'
    tuned_row = 'SAM tuned on pseudo-labels (iter {iteration})'

    def tune(self, ctx: PipelineContext, iteration: int, mask_dir: str) -> Dict:
        return stages.tune_sam(ctx, iteration, mask_dir)

    def make_pseudo_labels(self, ctx: PipelineContext, iteration: int,
                           checkpoint: str) -> Dict:
        return stages.make_pseudo_labels(ctx, iteration, checkpoint)

    def tuned_seconds(self, spent: float, pseudo: float, tuning: Optional[float]) -> float:
        return 0.0 if tuning is None else tuning + pseudo

    def evaluate(self, ctx: PipelineContext, tuned: Sequence[TunedSam],
                 classifier_seconds: float) -> Dict:
        return evaluate_models(ctx, tuned)

    def report(self, ctx: PipelineContext, record: Dict, tuned: Sequence[TunedSam]) -> Dict:
        out_dir = ctx.stage_dir(EVALUATION_STAGE)
        table = write_results(ctx, record, out_dir)
        return dict(table=table, pictures=write_pictures(ctx, tuned[-1][1], out_dir))


class ClassMapTask(PipelineTask):
    """The multi-class protocol over the dataset's classes (``task='multiclass'``).

    A row's training seconds are cumulative: every earlier iteration's, plus
    the classifier's (added by the evaluation).
    """

    sharded = False
    split_labels = True
    initial_row = 'SAM tuned on CAM class maps (iter 0)'
    tuned_row = 'SAM tuned on class pseudo-labels (iter {iteration})'

    @property
    def uses_sam(self) -> bool:
        return bool(self.cfg.get('use_sam', True))

    def tune(self, ctx: PipelineContext, iteration: int, mask_dir: str) -> Dict:
        return mc.tune_sam_on_class_maps(ctx, iteration, mask_dir)

    def make_pseudo_labels(self, ctx: PipelineContext, iteration: int,
                           checkpoint: str) -> Dict:
        return mc.make_class_pseudo_labels(ctx, iteration, checkpoint)

    def tuned_seconds(self, spent: float, pseudo: float, tuning: Optional[float]) -> float:
        return spent + pseudo if tuning is None else spent + pseudo + tuning

    def evaluate(self, ctx: PipelineContext, tuned: Sequence[TunedSam],
                 classifier_seconds: float) -> Dict:
        return evaluate_class_maps(ctx, tuned, classifier_seconds)

    def report(self, ctx: PipelineContext, record: Dict, tuned: Sequence[TunedSam]) -> Dict:
        # The trainable parameters of the final method: the tuned SAM, or the classifier.
        model_cfg = sam_model_config(ctx) if self.uses_sam else classifier_config(ctx)
        table = write_class_results(ctx, record, ctx.stage_dir(EVALUATION_STAGE),
                                    count_trainable_params(model_cfg))
        return dict(table=table)


#: ``task`` of a pipeline config -> its task class (the names are ``config_check.TASKS``).
TASK_TYPES = dict(zip(TASKS, (BinaryTask, ClassMapTask)))


def build_task(cfg: Config) -> PipelineTask:
    """The task of the pipeline config ``cfg`` (``task``, default ``'binary'``)."""
    task = cfg.get('task', 'binary')
    if task not in TASK_TYPES:
        raise ValueError(f'task must be one of {tuple(TASK_TYPES)}, got {task!r}')
    return TASK_TYPES[task](cfg)

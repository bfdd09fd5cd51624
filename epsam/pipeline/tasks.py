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

Step 7 is one loop for both (:func:`~.evaluation.evaluate`, then
:func:`~.report.write_results`): a task supplies its test split, its
baselines, SAM's predictions and its scoring (:mod:`.scoring`).
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config

from epsam.apis import count_trainable_params

from . import method_predictions as predict
from . import multiclass_stages as mc
from . import stages
from .config_check import TASKS
from .context import PipelineContext
from .pictures import write_pictures
from .scoring import ClassMapScoring, ForegroundDiceScoring, Predictions, Scoring
from .stage_models import classifier_config, sam_model_config
from .stage_names import CAM_STAGE

__all__ = ['TunedSam', 'PipelineTask', 'BinaryTask', 'ClassMapTask', 'build_task']

#: ``(row name, SAM checkpoint, training seconds)`` of one tuned SAM; the
#: seconds are cumulative: every tuning and pseudo-labelling up to this SAM.
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
        title: What the report's title calls the run.
        method_name: The harness's method name unless the config has ``method_name``.
    """

    sharded = True
    split_labels = False
    initial_row = ''
    tuned_row = ''
    title = ''
    method_name = ''

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg

    @property
    def uses_sam(self) -> bool:
        """Whether SAM is tuned and evaluated (else the CAM masks are the method)."""
        return True

    # --- steps 2, 4, 5 and 6 ------------------------------------------------------
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

    # --- step 7 (:func:`~.evaluation.evaluate`, :func:`~.report.write_results`) ------
    def test_split(self, ctx: PipelineContext) -> predict.TestSplit:
        """The test images and truths that step 7 scores (this rank's, if sharded)."""
        raise NotImplementedError

    def scoring(self, ctx: PipelineContext) -> Scoring:
        """How the test split's predictions are scored."""
        raise NotImplementedError

    def baselines(self, ctx: PipelineContext,
                  test: predict.TestSplit) -> List[predict.Baseline]:
        """The rows every method is measured against."""
        raise NotImplementedError

    def sam_predictions(self, ctx: PipelineContext, checkpoint: Optional[str],
                        test: predict.TestSplit) -> Predictions:
        """The CAM-prompted predictions of the SAM of ``checkpoint`` (original if None)."""
        raise NotImplementedError

    def record_fields(self, ctx: PipelineContext) -> Dict:
        """What the evaluation record adds for this task."""
        return {}

    def trainable_params(self, ctx: PipelineContext) -> int:
        """Trainable parameters of the final method: the tuned SAM, or the classifier."""
        return count_trainable_params(
            sam_model_config(ctx) if self.uses_sam else classifier_config(ctx))

    def pictures(self, ctx: PipelineContext, tuned: Sequence[TunedSam],
                 out_dir: str) -> List[str]:
        """Picture grids of the final method in ``out_dir`` (rank 0); their paths."""
        return []


class BinaryTask(PipelineTask):
    """EP-SAM's binary protocol: one foreground class (``task='binary'``)."""

    initial_row = 'SAM tuned on CAM masks (iter 0)'
    tuned_row = 'SAM tuned on pseudo-labels (iter {iteration})'
    title = 'EP-SAM'
    method_name = 'EP-SAM'

    def tune(self, ctx: PipelineContext, iteration: int, mask_dir: str) -> Dict:
        return stages.tune_sam(ctx, iteration, mask_dir)

    def make_pseudo_labels(self, ctx: PipelineContext, iteration: int,
                           checkpoint: str) -> Dict:
        return stages.make_pseudo_labels(ctx, iteration, checkpoint)

    def test_split(self, ctx: PipelineContext) -> predict.TestSplit:
        return predict.positive_test_split(ctx)

    def scoring(self, ctx: PipelineContext) -> Scoring:
        return ForegroundDiceScoring()

    def baselines(self, ctx: PipelineContext,
                  test: predict.TestSplit) -> List[predict.Baseline]:
        return predict.foreground_baselines(ctx, test)

    def sam_predictions(self, ctx: PipelineContext, checkpoint: Optional[str],
                        test: predict.TestSplit) -> Predictions:
        return predict.sam_foreground_masks(ctx, checkpoint, test)

    def pictures(self, ctx: PipelineContext, tuned: Sequence[TunedSam],
                 out_dir: str) -> List[str]:
        return write_pictures(ctx, tuned[-1][1], out_dir)


class ClassMapTask(PipelineTask):
    """The multi-class protocol over the dataset's classes (``task='multiclass'``)."""

    sharded = False
    split_labels = True
    initial_row = 'SAM tuned on CAM class maps (iter 0)'
    tuned_row = 'SAM tuned on class pseudo-labels (iter {iteration})'
    title = 'Multi-class WSSS'
    method_name = 'EP-SAM (multi-class)'

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self._metainfo: Optional[Dict] = None

    def metainfo(self, ctx: PipelineContext) -> Dict:
        """The dataset's classes and background index, read once per run."""
        if self._metainfo is None:
            self._metainfo = mc.dataset_metainfo(ctx)
        return self._metainfo

    @property
    def uses_sam(self) -> bool:
        return bool(self.cfg.get('use_sam', True))

    def tune(self, ctx: PipelineContext, iteration: int, mask_dir: str) -> Dict:
        return mc.tune_sam_on_class_maps(ctx, iteration, mask_dir)

    def make_pseudo_labels(self, ctx: PipelineContext, iteration: int,
                           checkpoint: str) -> Dict:
        return mc.make_class_pseudo_labels(ctx, iteration, checkpoint)

    def test_split(self, ctx: PipelineContext) -> predict.TestSplit:
        return predict.labelled_test_split(ctx, len(self.metainfo(ctx)['classes']))

    def scoring(self, ctx: PipelineContext) -> Scoring:
        meta = self.metainfo(ctx)
        return ClassMapScoring(meta['classes'], meta['background_index'])

    def baselines(self, ctx: PipelineContext,
                  test: predict.TestSplit) -> List[predict.Baseline]:
        name = f"{ctx.cfg.get('cam_name', 'CAM')} class maps (initial masks)"
        return [predict.Baseline(name, predict.cam_class_maps(ctx), True)]

    def sam_predictions(self, ctx: PipelineContext, checkpoint: Optional[str],
                        test: predict.TestSplit) -> Predictions:
        return predict.sam_class_maps(ctx, checkpoint, test)

    def record_fields(self, ctx: PipelineContext) -> Dict:
        meta = self.metainfo(ctx)
        return dict(classes=list(meta['classes']), background_index=meta['background_index'],
                    test_labels=stages.split_label_mode(ctx, ctx.cfg.test_split))


#: ``task`` of a pipeline config -> its task class (the names are ``config_check.TASKS``).
TASK_TYPES = dict(zip(TASKS, (BinaryTask, ClassMapTask)))


def build_task(cfg: Config) -> PipelineTask:
    """The task of the pipeline config ``cfg`` (``task``, default ``'binary'``)."""
    task = cfg.get('task', 'binary')
    if task not in TASK_TYPES:
        raise ValueError(f'task must be one of {tuple(TASK_TYPES)}, got {task!r}')
    return TASK_TYPES[task](cfg)

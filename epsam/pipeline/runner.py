"""Run the EP-SAM protocol stage by stage, resuming where a previous run stopped."""
import itertools
import logging
import os
import os.path as osp
import time
from contextlib import ExitStack, contextmanager
from typing import Callable, Dict, Iterator, List, Optional

from mmengine.config import Config
from mmengine.logging import MMLogger, print_log

from epsam.utils.work_dir_lock import WorkDirLock

from . import stages
from .config_check import TASKS, validate_pipeline_config
from .context import PipelineContext
from .distributed import PipelineRanks
from .evaluation import evaluate
from .fingerprints import Fingerprint
from .report import write_results
from .restart import restart_from
from .stage_clock import StageClock, format_duration
from .stage_names import (CAM_STAGE, CLASSIFIER_STAGE, EVALUATION_STAGE, pseudo_label_stage,
                          refuse_legacy_work_dir, sam_tuning_stage)
from .stage_plan import check_fingerprints, plan_stages
from .tasks import PipelineTask, TunedSam, build_task

__all__ = ['EPSAMPipeline', 'EVALUATION_STAGE', 'TASKS']

_PIPELINE_IDS = itertools.count()


class EPSAMPipeline:
    """EP-SAM from patch labels to a tuned SAM, as resumable stages.

    Stages (each in its own folder under ``work_dir``, finished ones skipped),
    the same for every task; the config's ``task`` picks how each does its
    work (:mod:`.tasks`: ``'binary'``, EP-SAM's one foreground class, or
    ``'multiclass'``, class maps over the dataset's classes):

    1. ``step1_classifier``: train the ADL classifier (``tools/train.py`` config),
       or reuse ``classifier.checkpoint``;
    2. ``step2_cams``: CAMs and initial masks (binary masks or class maps) of
       ``cam_splits``;
    3. ``step4_sam_tuning_iter0``: preliminary SAM tuning on the initial masks;
    4. for ``i`` in 1..``iterations``: ``step5_pseudo_labels_iter{i}`` (CAM
       prompts into the previous SAM, selection) and
       ``step6_sam_tuning_iter{i}`` (re-training from the original SAM
       weights on the selected pseudo-labels; not run when none was kept);
    5. ``step7_evaluation``: the CAM masks, the untuned SAM and every tuned
       SAM on the test split, and the reports.

    A multi-class config with ``use_sam=False`` runs steps 1, 2 and 5 only.

    Before any stage runs (:meth:`session`): the config is checked
    (:func:`~.config_check.validate_pipeline_config`), the work dir is locked
    (``.epsam.lock``), ``restart_from`` moves that stage and every later one
    aside, and finished stages whose fingerprint (:mod:`.stage_plan`) differs
    from the config's are refused.

    Args:
        cfg: The pipeline config.
        work_dir: Where the stages write.
        device: ``'cpu'`` or ``'cuda'``.
        restart_from: Redo this stage and every later one (their folders are
            moved aside to ``{stage}.old-{time}``), e.g. ``'step2_cams'``.
        launcher: ``'none'`` (one process) or the launcher of this process
            (``'pytorch'``, ``'slurm'``, ``'mpi'``); every rank then runs this
            pipeline (see :mod:`.distributed`): trainings under DDP, CAMs,
            pseudo-labels and evaluation sharded by rank, the lock, the checks,
            the reports and the stage records on rank 0.
    """

    def __init__(self, cfg: Config, work_dir: str, device: str = 'cpu',
                 restart_from: Optional[str] = None, launcher: str = 'none') -> None:
        # Before the logger: with a process group, only rank 0 writes its file.
        self.ranks = PipelineRanks.start(launcher)
        self.ctx = PipelineContext(cfg, work_dir, device, self.ranks)
        self._task: Optional[PipelineTask] = None
        self.restart_from = restart_from
        self.plan: Optional[Dict[str, Fingerprint]] = None
        self.clock: Optional[StageClock] = None
        os.makedirs(work_dir, exist_ok=True)
        # A name of its own (not only the second), so two pipelines made in one
        # second do not share a logger and each logs into its own work dir.
        self.logger = MMLogger.get_instance(
            f'epsam_pipeline_{time.strftime("%Y%m%d_%H%M%S")}_{next(_PIPELINE_IDS)}',
            log_file=osp.join(work_dir, 'pipeline.log'), file_mode='a')

    @property
    def task(self) -> PipelineTask:
        """The config's task (:mod:`.tasks`), built on first use (after the config check)."""
        if self._task is None:
            self._task = build_task(self.ctx.cfg)
        return self._task

    @property
    def iterations(self) -> int:
        return int(self.ctx.cfg.get('iterations', 3))

    def run_stage(self, stage: str, fn: Callable[[], Dict], every_rank: bool = True) -> Dict:
        """Run ``fn`` as ``stage`` unless it finished earlier; return the stage's record.

        The log says which step of the plan it is, how long it took and about
        how long the remaining steps should take (:class:`~.stage_clock.StageClock`).
        Under a launcher ``fn`` runs on every rank (its training under DDP,
        its items sharded; rank 0's result is the record), or on rank 0 alone
        with ``every_rank=False``; rank 0 alone writes the stage's records,
        and no rank leaves before they are written.
        """
        ledger, ranks = self.ctx.ledger, self.ranks
        clock = self.clock or StageClock([], lambda _: None)
        step = clock.step(stage)
        if ledger.is_done(stage):
            print_log(f'[pipeline] {step}: done earlier, skipped', logger=self.logger)
            return ledger.record(stage)
        print_log(f'[pipeline] {step}: running', logger=self.logger)
        fingerprint = (self.plan or {}).get(stage)
        if fingerprint is not None and ranks.is_main:
            ledger.mark_started(stage, dict(fingerprint=fingerprint.to_record()))
        start = time.time()
        record = fn() if every_rank else ranks.on_main(fn)

        def finish() -> Dict:
            done = record if fingerprint is None else dict(
                record, fingerprint=fingerprint.to_record())
            ledger.mark_done(stage, done)
            seconds = done.get('seconds', time.time() - start)
            clock.finished(stage, seconds)
            left = clock.remaining(stage)
            print_log(f'[pipeline] {step}: finished in {format_duration(seconds)}'
                      + (f'; {left}' if left else ''), logger=self.logger)
            return done

        done = ranks.on_main(finish)
        return done if ranks.is_main else ledger.record(stage)

    def skip_stage(self, stage: str, reason: str) -> None:
        """Log that a planned stage does not run in this protocol (and count it as done)."""
        if self.clock is not None:
            self.clock.finished(stage, 0.0)
        print_log(f'[pipeline] {self.clock.step(stage) if self.clock else stage}: not run '
                  f'({reason})', logger=self.logger)

    def _warn(self, message: str) -> None:
        print_log(f'[pipeline] {message}', logger=self.logger, level=logging.WARNING)

    @contextmanager
    def session(self) -> Iterator[None]:
        """Check the config, lock the work dir, apply ``restart_from``, check fingerprints.

        Nothing runs when any of these fails: the config's problems
        (:class:`~.config_check.PipelineConfigError`), another run holding the
        work dir (:class:`~epsam.utils.work_dir_lock.WorkDirBusyError`), or a
        finished stage made with other settings
        (:class:`~.stage_plan.StaleStageError`).
        """
        ctx = self.ctx
        validate_pipeline_config(ctx.cfg)
        with ExitStack() as held:
            # Rank 0 alone locks, checks and moves aside; its error stops every rank.
            self.ranks.on_main(lambda: self._prepare(held))
            self.plan = self.plan or {}
            self.restart_from = None  # once: a second run() of this object resumes
            try:
                yield
            finally:
                self.plan = self.clock = None

    def _prepare(self, held: ExitStack) -> None:
        """Lock the work dir (until ``held`` closes), plan, check and apply ``restart_from``."""
        ctx = self.ctx
        held.enter_context(WorkDirLock(ctx.work_dir, warn=self._warn))
        refuse_legacy_work_dir(ctx.work_dir)
        self.plan = plan_stages(ctx, self.iterations)
        self.clock = StageClock(self.plan, lambda stage: (ctx.ledger.record(stage) or {})
                                .get('seconds') if ctx.ledger.is_done(stage) else None)
        # The stages kept are checked before anything is moved aside.
        unchecked = check_fingerprints(ctx.ledger, self.plan, until=self.restart_from)
        if self.restart_from:
            moved = restart_from(ctx.work_dir, self.restart_from, self.plan)
            print_log(f'[pipeline] --restart-from {self.restart_from}: '
                      + (f"moved aside {', '.join(osp.basename(p) for p in moved)}"
                         if moved else 'nothing to move aside'), logger=self.logger)
        if unchecked:
            self._warn(f"{', '.join(unchecked)}: stage_done.json predates stage "
                       'fingerprints (older epsam); reused without checking its settings')

    def run(self) -> Dict:
        """Run (or resume) every stage inside :meth:`session`; return the evaluation record."""
        with self.session():
            ctx, task = self.ctx, self.task
            if task.uses_sam:
                print_log(f'[pipeline] {ctx.sam_note}', logger=self.logger,
                          level=logging.WARNING if ctx.stand_in_sam else logging.INFO)
            classifier = self._cam_stages()
            tuned = self._sam_stages() if task.uses_sam else []
            evaluation = self.run_stage(
                EVALUATION_STAGE, lambda: self._evaluate(tuned, classifier['seconds']),
                every_rank=task.sharded)
            print_log('\n' + evaluation['table'], logger=self.logger)
            return evaluation

    def run_cam_stages(self) -> None:
        """Run (or resume) steps 1 and 2 only: the classifier, then CAMs and initial masks."""
        with self.session():
            self._cam_stages()

    def _cam_stages(self) -> Dict:
        """Steps 1 and 2; returns the classifier stage's record."""
        ctx, task = self.ctx, self.task
        classifier = self.run_stage(CLASSIFIER_STAGE,
                                    lambda: stages.train_or_reuse_classifier(ctx))
        self.run_stage(CAM_STAGE, lambda: task.generate_cams(ctx), every_rank=task.sharded)
        return classifier

    def _sam_stages(self) -> List[TunedSam]:
        """Steps 4-6: tuning iteration 0, then pseudo-labels and re-tuning per iteration."""
        ctx, task = self.ctx, self.task
        record = self.run_stage(sam_tuning_stage(0),
                                lambda: task.tune(ctx, 0, task.initial_masks(ctx)))
        tuned: List[TunedSam] = [(task.initial_row, record['checkpoint'], record['seconds'])]
        for iteration in range(1, self.iterations + 1):
            previous, spent = tuned[-1][1], tuned[-1][2]
            pseudo = self.run_stage(
                pseudo_label_stage(iteration),
                lambda: task.make_pseudo_labels(ctx, iteration, previous),
                every_rank=task.sharded)
            if not pseudo['counts'].get('kept', 0):
                self._warn(f'iteration {iteration}: no pseudo-label kept ({pseudo["counts"]}); '
                           'SAM is not re-trained and the previous model is carried over')
                tuned.append((f'SAM iter {iteration} (no pseudo-label kept: = previous)', previous,
                              spent + pseudo['seconds']))
                self.skip_stage(sam_tuning_stage(iteration), 'no pseudo-label kept')
                continue
            record = self.run_stage(
                sam_tuning_stage(iteration),
                lambda: task.tune(ctx, iteration, pseudo['mask_dir']))
            tuned.append((task.tuned_row.format(iteration=iteration), record['checkpoint'],
                          spent + pseudo['seconds'] + record['seconds']))
        return tuned

    def _evaluate(self, tuned: List[TunedSam], classifier_seconds: float) -> Dict:
        """Score every method (items sharded by rank for a sharded task); rank 0 reports."""
        start = time.time()
        ctx, task = self.ctx, self.task
        record = evaluate(ctx, task, tuned, classifier_seconds)

        def report() -> None:
            out_dir = ctx.stage_dir(EVALUATION_STAGE)
            record['table'] = write_results(ctx, record, task.scoring(ctx), out_dir,
                                            task.method_name, task.trainable_params(ctx))
            record['pictures'] = task.pictures(ctx, tuned, out_dir)
            record['seconds'] = time.time() - start

        # A task evaluated on rank 0 alone is already there (no collective).
        if task.sharded:
            self.ranks.on_main(report)
        else:
            report()
        return record

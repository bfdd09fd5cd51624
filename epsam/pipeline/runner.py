"""Run the EP-SAM protocol stage by stage, resuming where a previous run stopped."""
import itertools
import logging
import os
import os.path as osp
import time
from contextlib import ExitStack, contextmanager
from typing import Callable, Dict, Iterator, List, Optional, Tuple

from mmengine.config import Config
from mmengine.logging import MMLogger, print_log

from epsam.utils.work_dir_lock import WorkDirLock

from . import stages
from .config_check import TASKS, validate_pipeline_config
from .context import PipelineContext
from .distributed import PipelineRanks
from .evaluation import evaluate_models, evaluation_items
from .fingerprints import Fingerprint
from .report import write_picture_grids, write_results
from .restart import restart_from
from .stage_clock import StageClock, format_duration
from .stage_plan import EVALUATION_STAGE, check_fingerprints, plan_stages

__all__ = ['EPSAMPipeline', 'EVALUATION_STAGE', 'TASKS']

_PIPELINE_IDS = itertools.count()


def picture_items(items: List, pseudo_dir: Optional[str], count: int) -> List:
    """The first ``count`` items, alternating kept and rejected pseudo-labels when
    ``pseudo_dir`` is given (so a grid shows both), in their listing order."""
    if not pseudo_dir:
        return list(items[:count])
    kept = [i for i in items if osp.isfile(osp.join(pseudo_dir, f'{i.stem}.png'))]
    rejected = [i for i in items if i not in kept]
    mixed = [item for pair in itertools.zip_longest(kept, rejected) for item in pair if item]
    return mixed[:count]


class EPSAMPipeline:
    """EP-SAM from patch labels to a tuned SAM, as resumable stages.

    Stages (each in its own folder under ``work_dir``, finished ones skipped):

    1. ``stage1_classifier``: train the ADL classifier (``tools/train.py`` config);
    2. ``stage2_cams``: CAMs and initial masks of the train and test splits;
    3. ``stage3_sam_tuning_iter0``: preliminary decoder tuning on the initial masks;
    4. for ``i`` in 1..``iterations``: ``stage4_pseudo_labels_iter{i}`` (CAM
       prompts into the previous SAM, IDS selection) and
       ``stage3_sam_tuning_iter{i}`` (re-training from the original SAM
       weights on the selected pseudo-labels);
    5. ``stage5_evaluation``: CAM-only masks, untuned SAM and every tuned SAM
       on the test split, with picture grids.

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
            moved aside to ``{stage}.old-{time}``), e.g. ``'stage2_cams'``.
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
        """Run (or resume) every stage; return the evaluation record.

        ``task='multiclass'`` in the config runs the multi-class protocol
        (:mod:`.multiclass_runner`); ``'binary'`` (the default) EP-SAM's.
        Both run inside :meth:`session`.
        """
        with self.session():
            if self.ctx.cfg.get('task', 'binary') == 'multiclass':
                from .multiclass_runner import run_multiclass
                return run_multiclass(self)
            return self._run_binary()

    def _run_binary(self) -> Dict:
        ctx = self.ctx
        print_log(f'[pipeline] {ctx.sam_note}', logger=self.logger,
                  level=logging.WARNING if ctx.stand_in_sam else logging.INFO)
        self._cam_stages()
        initial_masks = osp.join(ctx.stage_dir(stages.CAM_STAGE), ctx.cfg.train_split, 'masks')
        tuned: List[Tuple[str, str, float]] = []
        record = self.run_stage(stages.sam_tuning_stage(0),
                                lambda: stages.tune_sam(ctx, 0, initial_masks))
        tuned.append(('SAM tuned on CAM masks (iter 0)', record['checkpoint'],
                      record['seconds']))
        for iteration in range(1, self.iterations + 1):
            previous = tuned[-1][1]
            pseudo = self.run_stage(
                stages.pseudo_label_stage(iteration),
                lambda: stages.make_pseudo_labels(ctx, iteration, previous))
            if not pseudo['counts'].get('kept', 0):
                print_log(f'[pipeline] iteration {iteration}: the selector kept no pseudo-label '
                          f'({pseudo["counts"]}); SAM is not re-trained and the previous '
                          'model is carried over', logger=self.logger, level=logging.WARNING)
                tuned.append((f'SAM iter {iteration} (no pseudo-label kept: = previous)',
                              previous, 0.0))
                self.skip_stage(stages.sam_tuning_stage(iteration), 'no pseudo-label kept')
                continue
            record = self.run_stage(
                stages.sam_tuning_stage(iteration),
                lambda: stages.tune_sam(ctx, iteration, pseudo['mask_dir']))
            tuned.append((f'SAM tuned on pseudo-labels (iter {iteration})',
                          record['checkpoint'], record['seconds'] + pseudo['seconds']))
        evaluation = self.run_stage(EVALUATION_STAGE, lambda: self._evaluate(tuned))
        print_log('\n' + evaluation['table'], logger=self.logger)
        return evaluation

    def run_cam_stages(self) -> None:
        """Run (or resume) steps 1 and 2 only: the classifier, then CAMs and initial masks."""
        with self.session():
            self._cam_stages()

    def _cam_stages(self) -> None:
        ctx = self.ctx
        self.run_stage(stages.CLASSIFIER_STAGE, lambda: stages.train_or_reuse_classifier(ctx))
        self.run_stage(stages.CAM_STAGE, lambda: stages.generate_split_cams(ctx))

    def _evaluate(self, tuned: List[Tuple[str, str, float]]) -> Dict:
        """Score every model (items sharded by rank); rank 0 writes the report and pictures."""
        start = time.time()
        ctx = self.ctx
        out_dir = ctx.stage_dir(EVALUATION_STAGE)
        record = evaluate_models(ctx, tuned)

        def report() -> None:
            record['table'] = write_results(ctx, record, out_dir)
            record['pictures'] = self._pictures(tuned[-1][1], out_dir)
            record['seconds'] = time.time() - start

        self.ranks.on_main(report)
        return record

    def _pictures(self, final_checkpoint: str, out_dir: str) -> List[str]:
        """Grids for a few train patches (with pseudo-labels) and test patches."""
        ctx = self.ctx
        count = int(ctx.cfg.evaluation.get('num_pictures', 6))
        if count <= 0:
            return []
        last = self.iterations
        pseudo_dir: Optional[str] = None
        if last > 0:
            pseudo_dir = osp.join(ctx.stage_dir(stages.pseudo_label_stage(last)), 'masks')
        from epsam.pseudo_labels.sam_inference import BatchedSamPredictor
        sam, embedder = stages.load_inference_sam(ctx, final_checkpoint)
        predictor = BatchedSamPredictor(sam, ctx.cfg.evaluation.prompt, device=ctx.device,
                                        cache=embedder,
                                        seed=ctx.cfg.evaluation.get('seed', 0))
        paths = []
        for split, pseudo in ((ctx.cfg.train_split, pseudo_dir), (ctx.cfg.test_split, None)):
            items = picture_items(evaluation_items(ctx, split), pseudo, count)
            predictions = list(predictor.predict(items))
            paths.append(write_picture_grids(ctx, split, pseudo, predictions,
                                             osp.join(out_dir, f'grid_{split}.png'), count))
        return paths

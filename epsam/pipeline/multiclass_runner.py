"""The multi-class protocol as resumable stages (pipeline configs with ``task='multiclass'``).

Stages (folders under the work dir, as in the binary protocol):

1. ``stage1_classifier``: the multi-label classifier (or ``classifier.checkpoint``);
2. ``stage2_cams``: per-class CAMs and class-map initial masks of ``cam_splits``;
3. ``stage3_sam_tuning_iter0``: class-agnostic SAM tuning on the initial class maps;
4. for ``i`` in 1..``iterations``: ``stage4_pseudo_labels_iter{i}`` (per-class
   prompts, masks and selection, merged into class maps) and
   ``stage3_sam_tuning_iter{i}`` (from the original SAM weights);
5. ``stage5_evaluation``: CAM class maps, untuned and tuned SAM class maps on
   the test split under both WSSS protocols; ``final_metrics.json``.

With ``use_sam=False`` steps 3-4 are skipped and the CAM class maps are the
final method (the CAM / Grad-CAM baselines).

Like the binary protocol, it runs inside :meth:`EPSAMPipeline.session`: the
config is checked first, the work dir is locked, and every stage's record
carries its fingerprint (:mod:`.stage_plan` plans the multi-class stages).
"""
import logging
import time
from typing import Dict, List, Optional, Tuple

from mmengine.logging import print_log
from mmengine.registry import DefaultScope

from epsam.registry import MODELS

from . import multiclass_stages as mc
from . import stages
from .multiclass_evaluation import evaluate_class_maps
from .multiclass_report import write_class_results
from .stage_plan import EVALUATION_STAGE
from .stage_training import load_stage_config
from .stages import CAM_STAGE, CLASSIFIER_STAGE, pseudo_label_stage, sam_tuning_stage


def _trainable_params(config: str, cfg_options: Optional[dict], sam_cfg: Optional[dict]) -> int:
    cfg = load_stage_config(config, cfg_options)
    model_cfg = cfg.model.copy()
    if sam_cfg is not None:
        model_cfg.sam = sam_cfg
        model_cfg.pop('embedding_cache', None)
    with DefaultScope.overwrite_default_scope('epsam'):
        model = MODELS.build(model_cfg)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def run_multiclass(pipeline) -> Dict:
    """Run (or resume) every multi-class stage of ``pipeline`` (an ``EPSAMPipeline``).

    Called by :meth:`EPSAMPipeline.run` inside its session; called directly,
    it opens the session itself (config check, lock, fingerprints) first.
    """
    if pipeline.plan is None:
        with pipeline.session():
            return run_multiclass(pipeline)
    ctx, log = pipeline.ctx, pipeline.logger
    use_sam = bool(ctx.cfg.get('use_sam', True))
    if use_sam:
        print_log(f'[pipeline] {ctx.sam_note}', logger=log,
                  level=logging.WARNING if ctx.stand_in_sam else logging.INFO)
    classifier = pipeline.run_stage(CLASSIFIER_STAGE,
                                    lambda: stages.train_or_reuse_classifier(ctx))
    # Under a launcher the multi-class CAMs, pseudo-labels and evaluation run on
    # rank 0 (the others wait); its trainings run under DDP on every rank.
    pipeline.run_stage(CAM_STAGE, lambda: mc.generate_class_cams(ctx), every_rank=False)
    tuned: List[Tuple[str, str, float]] = []
    if use_sam:
        initial = f'{ctx.stage_dir(CAM_STAGE)}/{ctx.cfg.train_split}/masks'
        record = pipeline.run_stage(sam_tuning_stage(0),
                                    lambda: mc.tune_sam_on_class_maps(ctx, 0, initial))
        tuned.append(('SAM tuned on CAM class maps (iter 0)', record['checkpoint'],
                      record['seconds']))
        for iteration in range(1, pipeline.iterations + 1):
            previous, spent = tuned[-1][1], tuned[-1][2]
            pseudo = pipeline.run_stage(
                pseudo_label_stage(iteration),
                lambda: mc.make_class_pseudo_labels(ctx, iteration, previous), every_rank=False)
            if not pseudo['counts'].get('kept', 0):
                print_log(f'[pipeline] iteration {iteration}: no image kept a class mask '
                          f'({pseudo["counts"]}); SAM is not re-trained', logger=log,
                          level=logging.WARNING)
                tuned.append((f'SAM iter {iteration} (no pseudo-label kept: = previous)',
                              previous, spent + pseudo['seconds']))
                pipeline.skip_stage(sam_tuning_stage(iteration), 'no pseudo-label kept')
                continue
            record = pipeline.run_stage(
                sam_tuning_stage(iteration),
                lambda: mc.tune_sam_on_class_maps(ctx, iteration, pseudo['mask_dir']))
            tuned.append((f'SAM tuned on class pseudo-labels (iter {iteration})',
                          record['checkpoint'], spent + pseudo['seconds'] + record['seconds']))

    def evaluate() -> Dict:
        start = time.time()
        record = evaluate_class_maps(ctx, tuned, classifier['seconds'])
        if use_sam:
            params = _trainable_params(ctx.cfg.sam_tuning.config,
                                       ctx.cfg.sam_tuning.get('cfg_options'), ctx.sam_cfg)
        else:
            params = _trainable_params(ctx.cfg.classifier.config,
                                       ctx.cfg.classifier.get('cfg_options'), None)
        record['table'] = write_class_results(ctx, record, ctx.stage_dir(EVALUATION_STAGE),
                                              params)
        record['seconds'] = time.time() - start
        return record

    evaluation = pipeline.run_stage(EVALUATION_STAGE, evaluate, every_rank=False)
    print_log('\n' + evaluation['table'], logger=log)
    return evaluation

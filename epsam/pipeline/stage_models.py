"""The models the stages build outside training, all through :func:`epsam.apis.init_model`.

The step-1 classifier (CAMs), the SAM of a tuning checkpoint (pseudo-labels,
evaluation, picture grids). A report's trainable parameters are counted by
:func:`epsam.apis.count_trainable_params`.
"""
from typing import Any, Dict, NamedTuple, Optional, Tuple

import torch
from mmengine.config import Config

from epsam.apis import init_model
from epsam.models.sam import AdaptedSamEmbedder, SamEmbeddingCache, SamInputTransform

from .context import PipelineContext
from .stage_names import CLASSIFIER_STAGE
from .stage_training import load_stage_config

__all__ = ['classifier_config', 'set_seed', 'cam_classifier', 'sam_model_config', 'InferenceSam',
           'load_inference_sam', 'sam_embedding_cache']


#: The classifier's loaders and the pipeline keys naming their splits (and defaults).
CLASSIFIER_LOADER_SPLITS = (('train_dataloader', 'train_split', 'train'),
                            ('val_dataloader', 'val_split', 'val'),
                            ('test_dataloader', 'test_split', 'test'))


def classifier_data_values(ctx: PipelineContext, cfg: Config) -> Dict[str, Any]:
    """What the pipeline owns in the classifier config: each loader's data folder
    (``data_root`` and the split's ``data_prefix`` from ``split_prefixes``) and,
    when the pipeline config has a ``cams`` section, the CAM recipe ``cam_cfg``."""
    values: Dict[str, Any] = {}
    prefixes = ctx.cfg.get('split_prefixes') or {}
    for loader, split_key, default in CLASSIFIER_LOADER_SPLITS:
        if cfg.get(loader) is None:
            continue
        values[f'{loader}.dataset.data_root'] = ctx.data_root
        split = ctx.cfg.get(split_key, default)
        if split in prefixes:
            values[f'{loader}.dataset.data_prefix'] = dict(prefixes[split])
    if ctx.cfg.get('cams') is not None:
        values['cam_cfg'] = ctx.cfg.cams
    return values


def set_seed(cfg: Config, ctx: PipelineContext) -> None:
    """Give ``cfg`` the pipeline's ``seed`` (when the pipeline config sets one)."""
    if ctx.seed is not None:
        cfg.randomness = dict(cfg.get('randomness') or {}, seed=ctx.seed)


def classifier_config(ctx: PipelineContext) -> Config:
    """The step-1 classifier's mmengine config, with the pipeline's data folders and CAM recipe.

    The pipeline config is the one source of these values; each value of the
    classifier config it replaces is logged (:meth:`PipelineContext.own_values`).
    """
    section = ctx.cfg.classifier
    cfg = load_stage_config(section.config, section.get('cfg_options'))
    ctx.own_values(cfg, classifier_data_values(ctx, cfg), section.config)
    set_seed(cfg, ctx)
    return cfg


def cam_classifier(ctx: PipelineContext) -> Tuple[Config, torch.nn.Module, str]:
    """The trained classifier of step 1: its config, the model (eval mode, CPU), its checkpoint."""
    cfg = classifier_config(ctx)
    checkpoint = ctx.ledger.record(CLASSIFIER_STAGE)['checkpoint']
    return cfg, init_model(cfg, checkpoint), checkpoint


def sam_model_config(ctx: PipelineContext, adapter: bool = True) -> Config:
    """The SAM tuning config with the pipeline's SAM, for a model built outside training.

    Args:
        ctx: The pipeline context (SAM settings, tuning config, seed).
        adapter: Keep the tuning config's adapter; ``False`` builds the
            original SAM alone.
    """
    cfg = load_stage_config(ctx.cfg.sam_tuning.config, ctx.cfg.sam_tuning.get('cfg_options'))
    set_seed(cfg, ctx)
    ctx.own_values(cfg, {'model.sam': ctx.sam_cfg}, ctx.cfg.sam_tuning.config)
    cfg.model.pop('embedding_cache', None)
    if not adapter:
        cfg.model.pop('adapter', None)
    return cfg


class InferenceSam(NamedTuple):
    """A SAM ready for prompted inference, and where its image embeddings come from.

    Args:
        sam: ``segment_anything``'s SAM (eval mode, on the pipeline's device);
            its prompt encoder and mask decoder decode the prompts.
        embedder: What ``BatchedSamPredictor`` takes as ``cache``: the shared
            embedding cache (SAM without adapter), an
            :class:`~epsam.models.sam.AdaptedSamEmbedder` (adapter-tuned SAM),
            or ``None`` (encode directly with ``sam.image_encoder``).
    """

    sam: torch.nn.Module
    embedder: Optional[object]


def load_inference_sam(ctx: PipelineContext, checkpoint: Optional[str]) -> InferenceSam:
    """The SAM of a tuning checkpoint, with its adapter, ready for prompted inference.

    Args:
        ctx: The pipeline context (SAM settings, tuning config, device).
        checkpoint: A SAM tuning checkpoint, or ``None`` for the original
            SAM, which has no adapter whatever the tuning config says.
    """
    cfg = sam_model_config(ctx, adapter=checkpoint is not None)
    # Seed as the tuning runs do (mmengine seeds before building the model), so
    # a randomly initialised stand-in SAM here is the one tuning starts from.
    seed = cfg.get('randomness', {}).get('seed', 0)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = init_model(cfg, checkpoint, device=ctx.device)
    if model.adapter is None:
        return InferenceSam(model.sam, sam_embedding_cache(ctx, model.sam))
    if model.adapter.supports_cached_embeddings:
        # CAD fused after the neck: the frozen encoder's part comes from the shared cache.
        model.embedding_cache = sam_embedding_cache(ctx, model.sam)
    return InferenceSam(model.sam, AdaptedSamEmbedder(model))


def sam_embedding_cache(ctx: PipelineContext, sam: torch.nn.Module):
    """The shared embedding cache for ``sam``'s (frozen) encoder, or ``None``."""
    if ctx.embedding_cache_dir is None:
        return None
    return SamEmbeddingCache(ctx.embedding_cache_dir, sam.image_encoder,
                             input_transform=SamInputTransform.from_sam(sam),
                             encoder_tag=sam.variant.name)

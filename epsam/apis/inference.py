"""Build a model from a config and load its checkpoint: the one road for tools and stages.

:func:`load_config` reads a config (``--cfg-options`` merged in);
:func:`init_model` builds its ``model`` in epsam's scope and loads a
checkpoint strictly and weights-only
(:func:`epsam.engine.checkpoint_loading.load_model_weights`);
:func:`init_sam` is the SAM counterpart over :func:`epsam.models.sam.build_sam`;
:func:`count_trainable_params` counts what a config's model trains.
"""
from typing import Optional, Union

from mmengine.config import Config
from mmengine.registry import init_default_scope
from segment_anything.modeling import Sam
from torch import nn

from epsam.engine.checkpoint_loading import load_model_weights
from epsam.engine.config_utils import load_tool_config
from epsam.models.sam import build_sam
from epsam.registry import MODELS

__all__ = ['load_config', 'init_model', 'init_sam', 'count_trainable_params']

#: The one config loader: a file's config with ``cfg_options`` merged in (see
#: :func:`epsam.engine.config_utils.load_tool_config`).
load_config = load_tool_config


def init_model(config: Union[str, Config], checkpoint: Optional[str] = None,
               device: str = 'cpu', cfg_options: Optional[dict] = None,
               what: Optional[str] = None) -> nn.Module:
    """Build ``config.model`` in epsam's default scope and load ``checkpoint`` strictly.

    Args:
        config: A config file or a loaded :class:`~mmengine.config.Config`.
        checkpoint: A checkpoint (mmengine's or a bare state dict), loaded with
            ``torch.load(weights_only=True)``; every key and shape must fit.
            ``None`` keeps the config's initialisation.
        device: Where the model is moved.
        cfg_options: Overrides merged into the config.
        what: How a checkpoint error names the model (default: its class).

    Returns:
        The model in eval mode, with the config as ``model.cfg``.

    Raises:
        ToolError: The config or checkpoint file does not exist.
        KeyError: The config has no ``model``.
        CheckpointError: The checkpoint cannot be read or does not fit.
    """
    if isinstance(config, Config):
        cfg = config.copy()
        if cfg_options:
            cfg.merge_from_dict(dict(cfg_options))
    else:
        cfg = load_config(config, cfg_options)
    if 'model' not in cfg:
        raise KeyError(f'{config}: the config has no `model` entry')
    init_default_scope(cfg.get('default_scope', 'epsam'))
    model = MODELS.build(cfg.model)
    if checkpoint is not None:
        load_model_weights(model, checkpoint, map_location='cpu', what=what)
    model.cfg = cfg
    return model.to(device).eval()


def init_sam(variant: str = 'vit_b', checkpoint: Optional[str] = None, device: str = 'cpu',
             **kwargs) -> Sam:
    """Build a SAM variant with its weights (see :func:`epsam.models.sam.build_sam`).

    Args:
        variant: A registered variant name (``vit_b``, ``tiny``, ``lite_medsam``, ...).
        checkpoint: A SAM state dict, loaded strictly and weights-only; ``None``
            loads the weights that ship with the variant, or keeps a stand-in.
        device: Where the model is moved.
        **kwargs: ``pretrained``, ``fused_attention`` and variant overrides.

    Returns:
        ``segment_anything``'s ``Sam`` in eval mode.
    """
    return build_sam(variant, checkpoint=checkpoint, **kwargs).to(device).eval()


def count_trainable_params(config: Union[str, Config],
                           cfg_options: Optional[dict] = None) -> int:
    """Parameters with ``requires_grad`` of the model a config builds (no checkpoint read).

    Args:
        config: A config file or a loaded :class:`~mmengine.config.Config`.
        cfg_options: Overrides merged into the config, e.g.
            ``{'model.sam': dict(variant='tiny')}``.

    Returns:
        The number of trained parameters (frozen ones excluded).
    """
    model = init_model(config, cfg_options=cfg_options)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

"""Build an adapter for a given SAM, and count parameters."""
from typing import Iterator, Optional, Tuple, Union

from torch import nn

from epsam.registry import MODELS

from .base import BaseSamAdapter, EncoderSpec, InEncoderSamAdapter

__all__ = ['build_sam_adapter', 'adapter_class', 'adapter_supports_cached_embeddings',
           'trainable_parameters', 'count_parameters']


def build_sam_adapter(cfg: Union[dict, BaseSamAdapter], sam: nn.Module,
                      install: bool = True) -> BaseSamAdapter:
    """Build an adapter that fits ``sam``, check it, and install it if in-encoder.

    Sizes the encoder determines (``embed_dim``, ``depth``, ``channels``,
    ``embedding_size``, ...) are filled in from ``sam`` unless ``cfg`` sets
    them; values set in ``cfg`` are checked, not overridden.

    Args:
        cfg: Config with a registered ``type`` (``'CADAdapter'``,
            ``'SAMAdapter'``, ``'BottleneckAdapter'``, ``'LoRAAdapter'``), or
            a built adapter.
        sam: ``segment_anything``'s ``Sam`` (or its ``ImageEncoderViT``).
        install: Install an in-encoder adapter into ``sam``'s image encoder
            (which also freezes the encoder's own parameters).

    Returns:
        The adapter; ``adapter.encoder_needs_grad`` says how to run the encoder.

    Raises:
        AdapterCompatibilityError: A size set in ``cfg`` does not fit ``sam``,
            or the adapter cannot work with ``sam``'s encoder family
            (in-encoder adapters refuse TinyViT).
        TypeError: ``cfg`` builds something that is not a SAM adapter.
    """
    spec = EncoderSpec.of(sam)
    if isinstance(cfg, BaseSamAdapter):
        adapter = cfg
    else:
        cfg = dict(cfg)
        adapter_cls = adapter_class(cfg)
        settings = {key: value for key, value in cfg.items() if key != 'type'}
        adapter_cls.check_family(spec, **settings)
        for key, value in adapter_cls.encoder_defaults(spec, **settings).items():
            cfg.setdefault(key, value)
        adapter = MODELS.build(cfg)
    adapter.check_compatible(sam)
    if install and isinstance(adapter, InEncoderSamAdapter):
        adapter.install(sam)
    return adapter


def adapter_class(cfg: dict) -> type:
    """The registered :class:`BaseSamAdapter` subclass an adapter config names.

    Raises:
        KeyError: No ``type``, or a type not in the MODELS registry.
        TypeError: The type is not a SAM adapter.
    """
    if 'type' not in cfg:
        raise KeyError(f'build_sam_adapter: the adapter config needs a "type", got {dict(cfg)}')
    adapter_cls = MODELS.get(cfg['type']) if isinstance(cfg['type'], str) else cfg['type']
    if adapter_cls is None:
        raise KeyError(f'build_sam_adapter: no model named {cfg["type"]!r} in the epsam '
                       'MODELS registry')
    if not (isinstance(adapter_cls, type) and issubclass(adapter_cls, BaseSamAdapter)):
        raise TypeError(f'build_sam_adapter: {cfg["type"]!r} is not a SAM adapter')
    return adapter_cls


def adapter_supports_cached_embeddings(cfg: Optional[dict]) -> bool:
    """Whether a tuning model with this adapter config can use an embedding cache.

    True for no adapter (decoder-only tuning) and for parallel adapters fused
    after the encoder neck (CAD); False for in-encoder adapters, whose
    embeddings are not the frozen encoder's.

    Args:
        cfg: The ``adapter`` config of a ``SamTuningModel``, or ``None``.
    """
    if cfg is None:
        return True
    settings = {key: value for key, value in dict(cfg).items() if key != 'type'}
    return adapter_class(cfg).settings_support_cached_embeddings(**settings)


def trainable_parameters(module: nn.Module) -> Iterator[Tuple[str, nn.Parameter]]:
    """Named parameters with ``requires_grad``, each shared tensor once."""
    return ((name, param) for name, param in module.named_parameters() if param.requires_grad)


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter elements (each shared tensor counted once).

    Args:
        module: Any module.
        trainable_only: Count only parameters with ``requires_grad``.
    """
    return sum(param.numel() for param in module.parameters()
               if param.requires_grad or not trainable_only)

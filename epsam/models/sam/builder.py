"""Build SAM from ``segment_anything``'s own classes.

Every variant in :data:`~epsam.models.sam.variants.SAM_VARIANTS` is registered
in ``epsam.registry.SAM_BUILDERS`` under its name, so a config can say
``SAM_BUILDERS.build(dict(type='vit_b', checkpoint='sam_vit_b_01ec64.pth'))``.
The model is the installed package's ``Sam``; epsam never calls ``Sam.forward``
for training (it runs under ``torch.no_grad``) but calls its submodules.
"""
import functools
from functools import partial
from typing import Callable, Dict, List, Optional

import torch
from segment_anything.modeling import (ImageEncoderViT, MaskDecoder, PromptEncoder, Sam,
                                       TwoWayTransformer)

from epsam.registry import SAM_BUILDERS

from .variants import SAM_VARIANTS, SamVariant, get_sam_variant

__all__ = [
    'build_sam', 'build_sam_from_variant', 'list_sam_variants', 'register_sam_variant',
    'sam_state_dict_shapes'
]

#: SAM's normalisation constants, for RGB input in 0-255.
SAM_PIXEL_MEAN = (123.675, 116.28, 103.53)
SAM_PIXEL_STD = (58.395, 57.12, 57.375)


def build_sam_from_variant(variant: SamVariant) -> Sam:
    """Construct a randomly initialised SAM with the given sizes.

    Args:
        variant: The numbers of the configuration.

    Returns:
        A ``segment_anything`` ``Sam`` in eval mode, with the variant stored
        as ``sam.variant``.
    """
    grid = variant.image_embedding_size
    image_encoder = ImageEncoderViT(
        depth=variant.encoder_depth,
        embed_dim=variant.encoder_embed_dim,
        img_size=variant.img_size,
        mlp_ratio=4,
        norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
        num_heads=variant.encoder_num_heads,
        patch_size=variant.patch_size,
        qkv_bias=True,
        use_rel_pos=True,
        global_attn_indexes=tuple(variant.encoder_global_attn_indexes),
        window_size=variant.window_size,
        out_chans=variant.prompt_embed_dim,
    )
    prompt_encoder = PromptEncoder(
        embed_dim=variant.prompt_embed_dim,
        image_embedding_size=(grid, grid),
        input_image_size=(variant.img_size, variant.img_size),
        mask_in_chans=variant.mask_in_chans,
    )
    mask_decoder = MaskDecoder(
        num_multimask_outputs=variant.num_multimask_outputs,
        transformer=TwoWayTransformer(
            depth=variant.decoder_depth,
            embedding_dim=variant.prompt_embed_dim,
            mlp_dim=variant.decoder_mlp_dim,
            num_heads=variant.decoder_num_heads,
        ),
        transformer_dim=variant.prompt_embed_dim,
        iou_head_depth=variant.iou_head_depth,
        iou_head_hidden_dim=variant.iou_head_hidden_dim,
    )
    sam = Sam(image_encoder=image_encoder, prompt_encoder=prompt_encoder,
              mask_decoder=mask_decoder, pixel_mean=list(SAM_PIXEL_MEAN),
              pixel_std=list(SAM_PIXEL_STD))
    sam.variant = variant
    return sam.eval()


@functools.lru_cache(maxsize=None)
def sam_state_dict_shapes(variant: SamVariant) -> Dict[str, torch.Size]:
    """Shapes of every state-dict tensor of a variant, without allocating it.

    The model is built on the ``meta`` device, so even ``vit_h`` costs no
    memory. Used to tell which variant a checkpoint belongs to.

    Args:
        variant: The configuration.

    Returns:
        Map from state-dict key to tensor shape.
    """
    with torch.device('meta'):
        sam = build_sam_from_variant(variant)
    return {key: value.shape for key, value in sam.state_dict().items()}


def build_sam(variant: str = 'vit_b', checkpoint: Optional[str] = None, **overrides) -> Sam:
    """Build a SAM variant and optionally load its weights.

    Args:
        variant: Name of a registered variant (see :func:`list_sam_variants`).
        checkpoint: Path to a state dict (e.g. ``sam_vit_b_01ec64.pth``),
            loaded with ``weights_only=True`` on the CPU. ``None`` keeps the
            random initialisation.
        **overrides: Fields of :class:`SamVariant` to change, e.g.
            ``img_size=512``.

    Returns:
        ``segment_anything``'s ``Sam`` in eval mode; ``sam.variant`` holds
        the numbers it was built with.

    Raises:
        KeyError: Unknown variant name.
        TypeError: Unknown override.
        SamCheckpointError: The checkpoint cannot be read or does not fit.
    """
    spec = get_sam_variant(variant)
    if overrides:
        spec = spec.replace(**overrides)
    sam = build_sam_from_variant(spec)
    if checkpoint is not None:
        from .checkpoint import load_sam_checkpoint
        load_sam_checkpoint(sam, checkpoint)
    return sam


def list_sam_variants() -> List[str]:
    """Names of the registered SAM variants, sorted."""
    return sorted(SAM_VARIANTS)


def _make_variant_builder(name: str) -> Callable[..., Sam]:

    def builder(checkpoint: Optional[str] = None, **overrides) -> Sam:
        return build_sam(name, checkpoint=checkpoint, **overrides)

    builder.__name__ = f'build_sam_{name}'
    builder.__qualname__ = builder.__name__
    builder.__doc__ = (f'Build SAM {name!r}; see :func:`build_sam` for the arguments '
                       '``checkpoint`` and ``**overrides``.')
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

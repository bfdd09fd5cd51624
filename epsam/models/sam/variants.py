"""The numbers that define each SAM variant.

The official variants (``vit_b``, ``vit_l``, ``vit_h``) differ only in the
image encoder's width, depth, head count and global-attention blocks; the
numbers below are those of ``segment_anything/build_sam.py``. ``tiny`` uses the
same classes with a 256 px input and a few narrow layers, so tests and the
demo run on a CPU in well under a second.
"""
import dataclasses
from dataclasses import dataclass
from typing import Dict, Tuple

__all__ = ['SamVariant', 'SAM_VARIANTS', 'get_sam_variant']


@dataclass(frozen=True)
class SamVariant:
    """Sizes of one SAM configuration.

    Args:
        name: Variant name, also its name in ``SAM_BUILDERS``.
        encoder_embed_dim: ViT token width of the image encoder.
        encoder_depth: Number of ViT blocks.
        encoder_num_heads: Attention heads per ViT block.
        encoder_global_attn_indexes: Indexes of the blocks with global
            (not windowed) attention.
        img_size: Side of SAM's square input frame, in pixels.
        patch_size: ViT patch side in pixels; the image embedding grid is
            ``img_size // patch_size`` cells per side.
        window_size: Side of the attention windows, in grid cells.
        prompt_embed_dim: Channels of the image embedding, the prompt
            embeddings and the mask decoder's transformer.
        mask_in_chans: Hidden channels of the prompt encoder's mask branch.
        decoder_depth: Layers of the two-way transformer in the mask decoder.
        decoder_mlp_dim: MLP width inside the two-way transformer.
        decoder_num_heads: Attention heads of the two-way transformer.
        iou_head_hidden_dim: Width of the IoU prediction MLP.
        iou_head_depth: Layers of the IoU prediction MLP.
        num_multimask_outputs: Masks predicted when ``multimask_output``.
    """

    name: str
    encoder_embed_dim: int
    encoder_depth: int
    encoder_num_heads: int
    encoder_global_attn_indexes: Tuple[int, ...]
    img_size: int = 1024
    patch_size: int = 16
    window_size: int = 14
    prompt_embed_dim: int = 256
    mask_in_chans: int = 16
    decoder_depth: int = 2
    decoder_mlp_dim: int = 2048
    decoder_num_heads: int = 8
    iou_head_hidden_dim: int = 256
    iou_head_depth: int = 3
    num_multimask_outputs: int = 3

    def __post_init__(self) -> None:
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
        if self.prompt_embed_dim % 8:
            raise ValueError(f'SAM variant {self.name!r}: prompt_embed_dim '
                             f'({self.prompt_embed_dim}) must be a multiple of 8 '
                             '(the mask decoder upscales to prompt_embed_dim // 8 channels)')

    @property
    def image_embedding_size(self) -> int:
        """Side of the image embedding grid, in cells (64 for the official variants)."""
        return self.img_size // self.patch_size

    @property
    def low_res_mask_size(self) -> int:
        """Side of the mask decoder's logits (4 x the embedding grid)."""
        return 4 * self.image_embedding_size

    def replace(self, **overrides) -> 'SamVariant':
        """Return a copy with some numbers changed.

        Args:
            **overrides: Field names of :class:`SamVariant` and new values.

        Raises:
            TypeError: An override names no field.
        """
        fields = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - fields)
        if unknown:
            raise TypeError(f'unknown SAM variant setting(s) {unknown}; '
                            f'valid settings: {sorted(fields - {"name"})}')
        if 'encoder_global_attn_indexes' in overrides:
            overrides['encoder_global_attn_indexes'] = tuple(
                overrides['encoder_global_attn_indexes'])
        return dataclasses.replace(self, **overrides)


SAM_VARIANTS: Dict[str, SamVariant] = {
    'vit_b': SamVariant(name='vit_b', encoder_embed_dim=768, encoder_depth=12,
                        encoder_num_heads=12, encoder_global_attn_indexes=(2, 5, 8, 11)),
    'vit_l': SamVariant(name='vit_l', encoder_embed_dim=1024, encoder_depth=24,
                        encoder_num_heads=16, encoder_global_attn_indexes=(5, 11, 17, 23)),
    'vit_h': SamVariant(name='vit_h', encoder_embed_dim=1280, encoder_depth=32,
                        encoder_num_heads=16, encoder_global_attn_indexes=(7, 15, 23, 31)),
    'tiny': SamVariant(name='tiny', encoder_embed_dim=64, encoder_depth=2,
                       encoder_num_heads=2, encoder_global_attn_indexes=(1, ),
                       img_size=256, window_size=4, prompt_embed_dim=32, mask_in_chans=8,
                       decoder_mlp_dim=64, decoder_num_heads=2, iou_head_hidden_dim=32),
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

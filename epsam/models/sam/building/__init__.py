"""Building a SAM: variants, architectures, bundled and user checkpoints, encoder speed-ups.

The speed-ups: fused attention, and frames one by one on a CPU (:func:`encode_frames`).

Also the input frame each variant expects (:class:`SamInputTransform`), since
resizing and normalisation belong to the variant.
"""
from .architecture import build_sam_from_variant, sam_state_dict_shapes
from .builder import build_sam, list_sam_variants, register_sam_variant
from .checkpoint import (SamCheckpointError, describe_sam_state_dict, identify_sam_variant,
                         load_sam_checkpoint, read_sam_state_dict)
from .encoder_calls import encode_frames
from .fused_attention import fused_attention_enabled, use_fused_attention
from .input_transform import SamInputTransform
from .variants import SAM_VARIANTS, SamVariant, get_sam_variant

__all__ = [
    'build_sam_from_variant', 'sam_state_dict_shapes', 'build_sam', 'list_sam_variants',
    'register_sam_variant', 'SamCheckpointError', 'describe_sam_state_dict',
    'identify_sam_variant', 'load_sam_checkpoint', 'read_sam_state_dict',
    'encode_frames', 'fused_attention_enabled', 'use_fused_attention', 'SamInputTransform',
    'SAM_VARIANTS', 'SamVariant', 'get_sam_variant'
]

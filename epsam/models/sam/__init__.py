"""SAM over ``segment_anything``'s classes.

Building: variants, builders, safe checkpoint loading. Cache: cache keys,
entries and the embedding cache. Inference: the input-frame transform,
embedders (encoder, cache, adapter), the decoding functions and the one
predictor. Training: losses and the tuning model.
"""
from .architecture import build_sam_from_variant, sam_state_dict_shapes
from .builder import build_sam, list_sam_variants, register_sam_variant
from .cache_keys import (EncoderFingerprint, file_content_key, image_content_key,
                         preprocess_signature)
from .checkpoint import (SamCheckpointError, describe_sam_state_dict, identify_sam_variant,
                         load_sam_checkpoint, read_sam_state_dict)
from .decoding import best_candidates, decode_masks, decode_repeated, embed_prompts, unite_masks
from .embedders import AdaptedSamEmbedder, EncoderEmbedder, embed_counted
from .embedding_cache import SamEmbeddingCache
from .embedding_entry import CorruptCacheEntry, read_cache_entry, write_cache_entry
from .fused_attention import fused_attention_enabled, use_fused_attention
from .input_transform import SamInputTransform
from .losses import BCEIoULoss, DiceIoULoss, soft_dice_loss, soft_iou_loss
from .predictor import SamMaskPredictor
from .tuning_model import SamTuningModel
from .variants import SAM_VARIANTS, SamVariant, get_sam_variant

__all__ = [
    'AdaptedSamEmbedder', 'EncoderEmbedder', 'embed_counted', 'decode_repeated',
    'SAM_VARIANTS', 'SamVariant', 'get_sam_variant', 'build_sam',
    'build_sam_from_variant',
    'list_sam_variants', 'register_sam_variant', 'sam_state_dict_shapes', 'SamCheckpointError',
    'read_sam_state_dict', 'load_sam_checkpoint', 'identify_sam_variant',
    'describe_sam_state_dict', 'SamInputTransform', 'SamMaskPredictor', 'embed_prompts',
    'decode_masks', 'best_candidates', 'unite_masks', 'DiceIoULoss', 'BCEIoULoss', 'soft_dice_loss',
    'soft_iou_loss', 'SamTuningModel', 'SamEmbeddingCache', 'CorruptCacheEntry',
    'read_cache_entry', 'write_cache_entry', 'EncoderFingerprint', 'image_content_key',
    'file_content_key', 'preprocess_signature', 'use_fused_attention', 'fused_attention_enabled'
]

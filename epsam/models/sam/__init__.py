"""SAM over ``segment_anything``'s classes.

Four sub-packages, in the order they import each other:

- ``building/``: variants, builders, safe checkpoint loading, fused attention,
  and the input frame of each variant;
- ``cache/``: cache keys, on-disk entries and the embedding cache;
- ``inference/``: embedders (encoder, cache, adapter), the decoding
  functions and the one predictor;
- ``tuning/``: losses and the tuning model.
"""
from .building import (SAM_VARIANTS, SamCheckpointError, SamInputTransform, SamVariant, build_sam,
                       build_sam_from_variant, describe_sam_state_dict, fused_attention_enabled,
                       get_sam_variant, identify_sam_variant, list_sam_variants,
                       load_sam_checkpoint, read_sam_state_dict, register_sam_variant,
                       sam_state_dict_shapes, use_fused_attention)
from .cache import (CorruptCacheEntry, EncoderFingerprint, SamEmbeddingCache, file_content_key,
                    image_content_key, preprocess_signature, read_cache_entry, write_cache_entry)
from .inference import (AdaptedSamEmbedder, EncoderEmbedder, SamMaskPredictor, best_candidates,
                        decode_masks, decode_repeated, embed_counted, embed_prompts, unite_masks)
from .tuning import BCEIoULoss, DiceIoULoss, SamTuningModel, soft_dice_loss, soft_iou_loss

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

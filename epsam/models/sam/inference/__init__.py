"""SAM inference: embedders (encoder, cache, adapter), batched decoding, the one predictor."""
from .decoding import best_candidates, decode_masks, decode_repeated, embed_prompts, unite_masks
from .embedders import AdaptedSamEmbedder, EncoderEmbedder, embed_counted
from .predictor import SamMaskPredictor

__all__ = [
    'best_candidates', 'decode_masks', 'decode_repeated', 'embed_prompts', 'unite_masks',
    'AdaptedSamEmbedder', 'EncoderEmbedder', 'embed_counted', 'SamMaskPredictor'
]

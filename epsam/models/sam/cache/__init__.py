"""SAM's image-embedding cache: content and weight keys, on-disk entries, the cache."""
from .cache_keys import (EncoderFingerprint, file_content_key, image_content_key,
                         preprocess_signature)
from .embedding_cache import SamEmbeddingCache
from .embedding_entry import CorruptCacheEntry, read_cache_entry, write_cache_entry

__all__ = [
    'EncoderFingerprint', 'file_content_key', 'image_content_key', 'preprocess_signature',
    'SamEmbeddingCache', 'CorruptCacheEntry', 'read_cache_entry', 'write_cache_entry'
]

"""A disk cache of SAM image embeddings, shared by epochs, iterations and ranks.

SAM's image encoder is frozen in every EP-SAM stage, so an image's embedding
is computed once and read back afterwards. Entries are keyed by the image's
pixels (or file bytes plus augmentation id), SAM's preprocessing, the encoder's
weights and the storage dtype (see :mod:`epsam.models.sam.cache.cache_keys`); a
change of any of them gives a new key, and stale entries are never returned.

On-disk layout: ``<cache_dir>/ab/cd/<key>.emb``, one file per entry::

    b'EPSAMEMB'  | uint32 LE header length | JSON header | raw tensor bytes

The JSON header holds the key, the encoder fingerprint, dtype, shape, byte
count and a BLAKE2b checksum of the payload. A vit_b entry (256 x 64 x 64
float16) is 2 MiB (2,097,152 bytes) of payload plus about 320 bytes of header;
float32 storage doubles that. Files are written to a temporary name in the
same folder and moved into place with ``os.replace``, so concurrent readers
(other ranks, data-loader workers) never see a partial file, and two writers
of the same entry both leave a complete file with identical content. A file
that fails any check (truncated, garbage, wrong header) is recomputed and
replaced, with a warning and a count in :meth:`SamEmbeddingCache.stats`.
"""
import time
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import torch

from epsam.models.adapters.base import IN_ENCODER_ADAPTER_ATTR, EncoderSpec

from ..building.encoder_calls import encode_frames
from ..building.input_transform import SamInputTransform
from .cache_keys import EncoderFingerprint, entry_key, image_content_key, preprocess_signature
from .embedding_entry import (ENTRY_SUFFIX, STORAGE_DTYPES, TEMP_PREFIX, CorruptCacheEntry,
                              read_cache_entry, write_cache_entry)

__all__ = ['SamEmbeddingCache']

COUNTERS = ('hits', 'memory_hits', 'disk_hits', 'misses', 'encoder_passes', 'encoder_batches',
            'bytes_written', 'bytes_read', 'entries_written', 'corrupt_entries', 'write_errors')


class _ByteBoundedLRU:
    """Least-recently-used map of tensors whose total size stays under ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = int(max_bytes)
        self.total_bytes = 0
        self._items: 'OrderedDict[str, torch.Tensor]' = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> Optional[torch.Tensor]:
        tensor = self._items.get(key)
        if tensor is not None:
            self._items.move_to_end(key)
        return tensor

    def put(self, key: str, tensor: torch.Tensor) -> None:
        size = tensor.numel() * tensor.element_size()
        if size > self.max_bytes:
            return
        old = self._items.pop(key, None)
        if old is not None:
            self.total_bytes -= old.numel() * old.element_size()
        self._items[key] = tensor
        self.total_bytes += size
        while self.total_bytes > self.max_bytes:
            _, evicted = self._items.popitem(last=False)
            self.total_bytes -= evicted.numel() * evicted.element_size()


def _embedding_shape(encoder: torch.nn.Module) -> Optional[List[int]]:
    """(C, g, g) of a SAM image encoder (ViT or TinyViT); None for other encoders."""
    try:
        spec = EncoderSpec.of(encoder)
    except (AttributeError, IndexError, TypeError):
        return None
    return [spec.out_channels, spec.grid, spec.grid]


class SamEmbeddingCache:
    """Compute SAM image embeddings once, keep them on disk (and in memory).

    Safe across processes (each rank or worker makes its own instance); one
    instance is not meant to be shared between threads.

    Args:
        cache_dir: Root folder of the entries (created if missing); may be
            shared by processes, ranks and encoders (keys include the weights).
        encoder: SAM's frozen image encoder (``sam.image_encoder``); its
            device is where images are encoded.
        input_transform: Preprocessing to SAM's frame; default
            ``SamInputTransform(encoder.img_size)`` with SAM's mean and std
            (ViT encoders only; give ``SamInputTransform.from_sam(sam)``).
        encoder_tag: Text mixed into the weight fingerprint, e.g. ``'vit_b'``.
        storage_dtype: ``'float16'`` (default, 2 MiB per vit_b entry),
            ``'bfloat16'`` or ``'float32'`` (4 MiB).
        batch_size: Images per encoder forward pass when computing misses.
        memory_limit_bytes: Size of the in-memory LRU layer (0 disables it);
            e.g. ``2 << 30`` keeps about 1000 vit_b embeddings.
        output_dtype: Dtype of the returned embeddings.
        verify_checksum: Hash each payload on read (about 2 ms per 2 MiB).
        fsync: Flush each entry to the disk before publishing it.
    """

    def __init__(self,
                 cache_dir: Union[str, Path],
                 encoder: torch.nn.Module,
                 *,
                 input_transform: Optional[SamInputTransform] = None,
                 encoder_tag: Optional[str] = None,
                 storage_dtype: str = 'float16',
                 batch_size: int = 4,
                 memory_limit_bytes: int = 0,
                 output_dtype: torch.dtype = torch.float32,
                 verify_checksum: bool = True,
                 fsync: bool = False) -> None:
        self.cache_dir = Path(cache_dir)
        if self.cache_dir.exists() and not self.cache_dir.is_dir():
            raise NotADirectoryError(f'SamEmbeddingCache: cache_dir {self.cache_dir} is a file')
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        if storage_dtype not in STORAGE_DTYPES:
            raise ValueError(f'SamEmbeddingCache: storage_dtype must be one of '
                             f'{sorted(STORAGE_DTYPES)}, got {storage_dtype!r}')
        if batch_size < 1:
            raise ValueError(f'SamEmbeddingCache: batch_size must be >= 1, got {batch_size}')
        if memory_limit_bytes < 0:
            raise ValueError('SamEmbeddingCache: memory_limit_bytes must be >= 0, '
                             f'got {memory_limit_bytes}')
        if input_transform is None:
            if not hasattr(encoder, 'img_size'):
                raise ValueError('SamEmbeddingCache: the encoder has no img_size; pass '
                                 'input_transform explicitly')
            if _embedding_shape(encoder) and EncoderSpec.of(encoder).family == 'tiny_vit':
                raise ValueError('SamEmbeddingCache: a TinyViT encoder has no default '
                                 'preprocessing (LiteMedSAM and MobileSAM differ); pass '
                                 'input_transform=SamInputTransform.from_sam(sam)')
            input_transform = SamInputTransform(encoder.img_size)
        self.encoder = encoder
        self.transform = input_transform
        self.preprocess = preprocess_signature(input_transform.img_size,
                                               input_transform.pixel_mean,
                                               input_transform.pixel_std,
                                               input_transform.normalization)
        self.storage_dtype_name = storage_dtype
        self.storage_dtype = STORAGE_DTYPES[storage_dtype]
        self.batch_size = int(batch_size)
        self.output_dtype = output_dtype
        self.verify_checksum = verify_checksum
        self.fsync = fsync
        self.memory = _ByteBoundedLRU(memory_limit_bytes)
        self._fingerprint = EncoderFingerprint(encoder, tag=encoder_tag)
        self._shape = _embedding_shape(encoder)
        self._counts = dict.fromkeys(COUNTERS, 0)

    # --- keys and paths ---------------------------------------------------
    @property
    def encoder_fingerprint(self) -> str:
        """Hash of the encoder's weights (recomputed when a weight tensor changes)."""
        return self._fingerprint.digest

    def refresh_fingerprint(self) -> str:
        """Re-hash the weights, e.g. after editing them through ``param.data``."""
        return self._fingerprint.refresh()

    def content_key(self, image: torch.Tensor, variant_id: str = '') -> str:
        """Key of an RGB image (3, H, W), 0-255, by its exact pixels and the preprocessing."""
        return image_content_key(image, self.preprocess, variant_id)

    def entry_path(self, content_key: str, fingerprint: Optional[str] = None) -> Path:
        """File of an image's entry for ``fingerprint`` (default: the current weights)."""
        fingerprint = self.encoder_fingerprint if fingerprint is None else fingerprint
        name = entry_key(content_key, fingerprint, self.storage_dtype)
        return self.cache_dir / name[:2] / name[2:4] / f'{name}{ENTRY_SUFFIX}'

    # --- counters -----------------------------------------------------------
    def stats(self) -> Dict[str, int]:
        """Counters since creation or :meth:`reset_stats`.

        ``hits`` = ``memory_hits`` + ``disk_hits`` and ``misses`` count
        requested images; ``encoder_passes`` counts images run through the
        encoder (a key repeated within one call is encoded once) and
        ``encoder_batches`` the encoder forward calls; ``corrupt_entries``
        counts files rejected on read. Also reports ``memory_entries`` and
        ``memory_bytes`` of the LRU layer.
        """
        return dict(self._counts, memory_entries=len(self.memory),
                    memory_bytes=self.memory.total_bytes)

    def reset_stats(self) -> None:
        """Set every counter to zero."""
        self._counts = dict.fromkeys(COUNTERS, 0)

    # --- single entries -----------------------------------------------------
    def _expected_header(self, path: Path, fingerprint: str) -> Dict[str, object]:
        expected = dict(key=path.stem, encoder=fingerprint, dtype=self.storage_dtype_name)
        if self._shape is not None:
            expected['shape'] = self._shape
        return expected

    def get(self, content_key: str, fingerprint: Optional[str] = None) -> Optional[torch.Tensor]:
        """Cached embedding (C, g, g) in the storage dtype on the CPU, or None.

        Counts a memory or disk hit, or a miss. A corrupt file counts as a
        miss and a corrupt entry, with a warning.

        Args:
            content_key: The image's key (:meth:`content_key`).
            fingerprint: Encoder fingerprint; default the current weights'.
        """
        fingerprint = self.encoder_fingerprint if fingerprint is None else fingerprint
        path = self.entry_path(content_key, fingerprint)
        tensor = self.memory.get(path.stem)
        if tensor is not None:
            self._counts['memory_hits'] += 1
            self._counts['hits'] += 1
            return tensor
        try:
            tensor, nbytes = read_cache_entry(path, self._expected_header(path, fingerprint),
                                              self.verify_checksum)
        except FileNotFoundError:
            tensor = None
        except (CorruptCacheEntry, OSError) as err:
            self._counts['corrupt_entries'] += 1
            warnings.warn(f'SamEmbeddingCache: corrupt entry {path} ({err}); it will be '
                          'recomputed', RuntimeWarning, stacklevel=3)
            tensor = None
        if tensor is None:
            self._counts['misses'] += 1
            return None
        self._counts['disk_hits'] += 1
        self._counts['hits'] += 1
        self._counts['bytes_read'] += nbytes
        self.memory.put(path.stem, tensor)
        return tensor

    def put(self, content_key: str, embedding: torch.Tensor,
            fingerprint: Optional[str] = None) -> torch.Tensor:
        """Store an embedding (C, g, g) computed by the encoder.

        Args:
            content_key: The image's key (:meth:`content_key`).
            embedding: The encoder output for that image.
            fingerprint: Encoder fingerprint; default the current weights'.

        Returns:
            The stored value: ``embedding`` rounded to the storage dtype, on the CPU.
        """
        if self._shape is not None and list(embedding.shape) != self._shape:
            raise ValueError(f'SamEmbeddingCache.put: embedding shape {tuple(embedding.shape)} '
                             f'does not match the encoder output {tuple(self._shape)}')
        fingerprint = self.encoder_fingerprint if fingerprint is None else fingerprint
        stored = embedding.detach().to(device='cpu', dtype=self.storage_dtype).contiguous()
        path = self.entry_path(content_key, fingerprint)
        header = dict(key=path.stem, encoder=fingerprint, content=content_key)
        try:
            self._counts['bytes_written'] += write_cache_entry(path, stored, header, self.fsync)
            self._counts['entries_written'] += 1
        except OSError as err:
            self._counts['write_errors'] += 1
            warnings.warn(f'SamEmbeddingCache: cannot write {path} ({err}); the embedding is '
                          'returned but not cached', RuntimeWarning, stacklevel=2)
        self.memory.put(path.stem, stored)
        return stored

    # --- batches ------------------------------------------------------------
    def _check_plain_encoder(self) -> None:
        """Refuse an encoder changed by an in-encoder adapter (SAM-Adapter, LoRA...).

        The cache keys hash the encoder's own weights, which such an adapter
        leaves untouched: its embeddings would be stored (and found) under
        the plain encoder's key.
        """
        adapter = getattr(self.encoder, IN_ENCODER_ADAPTER_ATTR, None)
        if adapter:
            raise RuntimeError(
                f'SamEmbeddingCache: {adapter} is installed in the image encoder, so its '
                'embeddings are not the frozen encoder\'s and cannot be cached under its '
                'weights; use the cache with decoder-only tuning or a parallel adapter fused '
                'after the neck (CADAdapter, fusion_point=\'neck\')')

    @staticmethod
    def _as_image_list(images: Union[torch.Tensor, Sequence[torch.Tensor]]) -> List[torch.Tensor]:
        if isinstance(images, torch.Tensor):
            if images.ndim != 4:
                raise ValueError('SamEmbeddingCache: images must be (B, 3, H, W) or a list of '
                                 f'(3, H, W), got shape {tuple(images.shape)}')
            images = list(images)
        images = list(images)
        for index, image in enumerate(images):
            if not isinstance(image, torch.Tensor) or image.ndim != 3 or image.shape[0] != 3:
                shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image)
                raise ValueError(f'SamEmbeddingCache: image {index} must be an RGB tensor '
                                 f'(3, H, W) on the 0-255 scale, got {shape}')
        return images

    def _encode(self, images: List[torch.Tensor]) -> torch.Tensor:
        """Run the encoder on RGB images of any sizes, ``batch_size`` at a time."""
        param = next(self.encoder.parameters(), None)
        device = param.device if param is not None else torch.device('cpu')
        dtype = param.dtype if param is not None else torch.float32
        outputs = []
        # no_grad, not inference_mode: the results feed the trainable mask decoder,
        # which must be able to save them for backward.
        with torch.no_grad():
            for start in range(0, len(images), self.batch_size):
                batch = torch.cat([self.transform.preprocess(image[None].to(device))
                                   for image in images[start:start + self.batch_size]])
                outputs.append(encode_frames(self.encoder, batch.to(dtype)))
                self._counts['encoder_batches'] += 1
                self._counts['encoder_passes'] += len(batch)
        return torch.cat(outputs)

    def get_or_compute(self,
                       images: Union[torch.Tensor, Sequence[torch.Tensor]],
                       keys: Optional[Sequence[str]] = None,
                       device: Optional[Union[str, torch.device]] = None) -> torch.Tensor:
        """Embeddings of a batch of images, encoding only the uncached ones.

        Args:
            images: RGB images on the 0-255 scale, a (B, 3, H, W) tensor or a
                list of (3, H, W) tensors of any sizes (uint8 or float).
            keys: Content keys, one per image (e.g. from
                :func:`~epsam.models.sam.cache.cache_keys.file_content_key`); by
                default each image is keyed by its pixels.
            device: Where to return the result; default the encoder's device.

        Returns:
            Tensor (B, C, g, g) in ``output_dtype``, the stored (rounded)
            values, so a hit and a miss give identical results.
        """
        self._check_plain_encoder()
        images = self._as_image_list(images)
        if keys is None:
            keys = [self.content_key(image) for image in images]
        elif len(keys) != len(images) or not all(isinstance(k, str) and k for k in keys):
            raise ValueError(f'SamEmbeddingCache: need one non-empty string key per image, got '
                             f'{len(keys)} keys for {len(images)} images')
        fingerprint = self.encoder_fingerprint
        results: List[Optional[torch.Tensor]] = [self.get(key, fingerprint) for key in keys]
        pending: Dict[str, List[int]] = {}
        for index, (key, result) in enumerate(zip(keys, results)):
            if result is None:
                pending.setdefault(key, []).append(index)
        if pending:
            encoded = self._encode([images[indexes[0]] for indexes in pending.values()])
            for (key, indexes), embedding in zip(pending.items(), encoded):
                stored = self.put(key, embedding, fingerprint)
                for index in indexes:
                    results[index] = stored
        if device is None:
            param = next(self.encoder.parameters(), None)
            device = param.device if param is not None else 'cpu'
        return torch.stack(results).to(device=device, dtype=self.output_dtype)

    # --- maintenance --------------------------------------------------------
    def remove_stale_temp_files(self, older_than_s: float = 3600.0) -> int:
        """Delete temporary files left by killed writers; returns how many.

        Args:
            older_than_s: Only files not modified for this many seconds (a
                live writer's file is younger).
        """
        removed = 0
        cutoff = time.time() - older_than_s
        for path in self.cache_dir.glob(f'*/*/{TEMP_PREFIX}*'):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                pass
        return removed

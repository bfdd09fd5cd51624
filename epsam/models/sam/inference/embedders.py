"""Sources of SAM image embeddings: the stock encoder, a cache, a tuned adapter.

An embedder has ``get_or_compute(images, device=)`` returning the embeddings
(B, C, g, g) the mask decoder sees, for RGB images (3, H, W) on the 0-255
scale of any sizes, and ``stats()`` counting ``encoder_passes`` (images
run through the image encoder) and ``encoder_batches`` (encoder calls). Three
kinds serve :class:`~epsam.models.sam.SamMaskPredictor`:

- :class:`EncoderEmbedder`: ``sam.image_encoder`` under ``torch.no_grad``;
- :class:`~epsam.models.sam.SamEmbeddingCache`: the encoder through an
  on-disk cache;
- :class:`AdaptedSamEmbedder`: a SAM tuned with an adapter. In-encoder
  adapters (SAM-Adapter, bottleneck, LoRA) act through hooks on the encoder,
  and a parallel adapter (CAD) is added to the encoder output; it runs
  :meth:`SamTuningModel.embed_images`, through the model's own embedding
  cache where it has one (CAD fused after the neck).
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from segment_anything.modeling import Sam

from ..building.encoder_calls import encode_frames
from ..building.input_transform import SamInputTransform

__all__ = ['EncoderEmbedder', 'AdaptedSamEmbedder', 'embed_counted']

Images = Union[torch.Tensor, Sequence[torch.Tensor]]


class EncoderEmbedder:
    """Embeddings straight from SAM's image encoder, one encoder batch per request.

    On a CPU the batch's images go through one at a time
    (:func:`~epsam.models.sam.building.encode_frames`).

    Args:
        sam: A built SAM; its ``image_encoder`` runs on its own device.
    """

    def __init__(self, sam: Sam) -> None:
        self.sam = sam
        self.transform = SamInputTransform.from_sam(sam)
        self._counts = dict(encoder_passes=0, encoder_batches=0)

    @torch.no_grad()
    def get_or_compute(self, images: Images,
                       device: Optional[Union[str, torch.device]] = None) -> torch.Tensor:
        """Embeddings (B, C, g, g) of RGB 0-255 images (3, H, W); default device: SAM's."""
        model_device = self.sam.pixel_mean.device
        images = list(images)
        batch = torch.cat([self.transform.preprocess(image[None].to(model_device))
                           for image in images])
        embeddings = encode_frames(self.sam.image_encoder, batch)
        self._counts['encoder_passes'] += len(images)
        self._counts['encoder_batches'] += 1
        return embeddings.to(model_device if device is None else device)

    def stats(self) -> Dict[str, int]:
        """Images run through the image encoder and encoder calls since creation."""
        return dict(self._counts)


class AdaptedSamEmbedder:
    """Embedding source of a :class:`~epsam.models.sam.SamTuningModel` with an adapter.

    Args:
        model: The tuning model (its adapter and weights loaded). It is put
            in eval mode; its frozen encoder may hold an embedding cache,
            which is then used for the encoder part.

    Example:
        >>> embedder = AdaptedSamEmbedder(tuning_model)
        >>> predictor = SamMaskPredictor(tuning_model.sam, embedder=embedder)
    """

    def __init__(self, model: torch.nn.Module) -> None:
        if getattr(model, 'adapter', None) is None:
            raise ValueError('AdaptedSamEmbedder: the model has no adapter; use its SAM '
                             'directly (with an embedding cache if wanted)')
        self.model = model.eval()
        self._counts = dict(encoder_passes=0, encoder_batches=0)

    @property
    def adapter(self) -> torch.nn.Module:
        """The model's adapter (its weights belong in any fingerprint of the output)."""
        return self.model.adapter

    def get_or_compute(self, images: Images,
                       device: Optional[Union[str, torch.device]] = None) -> torch.Tensor:
        """Embeddings (B, C, g, g) the mask decoder sees, adapter included.

        Args:
            images: RGB images on the 0-255 scale, (B, 3, H, W) or a list of
                (3, H, W) of any sizes.
            device: Where to return them; default the model's device.
        """
        images = list(images)
        model_device = self.model.sam.pixel_mean.device
        cache = self.model.embedding_cache
        before = cache.stats() if cache is not None else None
        with torch.no_grad():
            embeddings = self.model.embed_images([image.to(model_device) for image in images])
        if cache is None:
            self._counts['encoder_passes'] += len(images)
            self._counts['encoder_batches'] += 1
        else:
            after = cache.stats()
            for key in self._counts:
                self._counts[key] += after[key] - before[key]
        return embeddings.to(model_device if device is None else device)

    def stats(self) -> Dict[str, int]:
        """Images run through the image encoder and encoder calls since creation."""
        return dict(self._counts)


def embed_counted(embedder: object, images: List[torch.Tensor],
                  device: torch.device) -> Tuple[torch.Tensor, int, int]:
    """Embeddings from an embedder, and how much encoding it did.

    Args:
        embedder: Any embedder (see the module docstring); ``stats()`` is
            optional.
        images: RGB images (3, H, W) on the 0-255 scale.
        device: Where the embeddings are wanted.

    Returns:
        ``(embeddings, images_encoded, encoder_calls)``.
    """
    if not hasattr(embedder, 'get_or_compute'):
        raise TypeError(f'an embedder must have a get_or_compute(images, device=) method, got '
                        f'{type(embedder).__name__}')
    before = embedder.stats() if hasattr(embedder, 'stats') else {}
    embeddings = embedder.get_or_compute(images, device=device)
    after = embedder.stats() if hasattr(embedder, 'stats') else {}
    passes = after.get('encoder_passes', 0) - before.get('encoder_passes', 0)
    calls = after.get('encoder_batches', 0) - before.get('encoder_batches', 0)
    return embeddings, passes, calls

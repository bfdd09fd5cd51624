"""Image embeddings of an adapter-tuned SAM, for prompted inference.

:class:`~epsam.pseudo_labels.sam_inference.BatchedSamPredictor` gets its
image embeddings from ``sam.image_encoder`` or from an embedding source with
``get_or_compute(images, device=)`` (the API of
:class:`~epsam.models.sam.SamEmbeddingCache`). A SAM tuned with an adapter
needs the adapter in that path: in-encoder adapters (SAM-Adapter, bottleneck,
LoRA) act through hooks on the encoder, and a parallel adapter (CAD) is added
to the encoder output. :class:`AdaptedSamEmbedder` is that source: it runs
:meth:`SamTuningModel.embed_images` under ``torch.no_grad``, through the
model's own embedding cache where it has one (CAD fused after the neck).
"""
from typing import Dict, Optional, Sequence, Union

import torch

__all__ = ['AdaptedSamEmbedder']


class AdaptedSamEmbedder:
    """Embedding source of a :class:`~epsam.models.sam.SamTuningModel` with an adapter.

    Args:
        model: The tuning model (its adapter and weights loaded). It is put
            in eval mode; its frozen encoder may hold an embedding cache,
            which is then used for the encoder part.

    Example:
        >>> embedder = AdaptedSamEmbedder(tuning_model)
        >>> predictor = BatchedSamPredictor(tuning_model.sam, prompts, cache=embedder)
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

    def get_or_compute(self,
                       images: Union[torch.Tensor, Sequence[torch.Tensor]],
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

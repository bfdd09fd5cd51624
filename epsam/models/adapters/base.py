"""The two kinds of SAM adapter and what they need to know about the encoder.

- A **parallel** adapter (:class:`ParallelSamAdapter`, e.g. CAD) is a separate
  network fed with the image. Its output ``delta`` is added to the frozen
  encoder's output: ``embedding = encoder(x) + scale * delta``. The encoder
  runs under ``torch.no_grad``, so backward never enters it and none of its
  activations are kept (``encoder_needs_grad = False``).
- An **in-encoder** adapter (:class:`InEncoderSamAdapter`: SAM-Adapter,
  bottleneck adapters, LoRA) is installed into ``ImageEncoderViT`` with
  forward hooks that add its signals inside every block. Its parameters live
  in the adapter module, never in the encoder, so the encoder's state dict
  (and SAM checkpoints) are unchanged and ``encoder.requires_grad_(False)``
  leaves the adapter trainable. The encoder must run *with* autograd
  (``encoder_needs_grad = True``): backward crosses every frozen block and
  autograd keeps their activations. Hooks are ``functools.partial`` objects
  over bound methods, so deep-copying a model that holds both the encoder and
  the adapter (e.g. for EMA) gives a copy whose hooks call the copied adapter.

Every adapter knows which encoder sizes it was built for and
:meth:`BaseSamAdapter.check_compatible` says, naming the SAM variant, when
they do not fit. :meth:`BaseSamAdapter.encoder_defaults` gives the settings an
encoder determines, so :func:`~epsam.models.adapters.build_sam_adapter` can fill
them in.
"""
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, Union

import torch
from torch import Tensor, nn

__all__ = [
    'IN_ENCODER_ADAPTER_ATTR', 'AdapterCompatibilityError', 'EncoderSpec', 'BaseSamAdapter',
    'ParallelSamAdapter', 'InEncoderSamAdapter', 'get_image_encoder'
]


#: Attribute an installed in-encoder adapter sets on the encoder (its class
#: name), so code that caches encoder outputs can refuse it.
IN_ENCODER_ADAPTER_ATTR = 'epsam_in_encoder_adapter'


class AdapterCompatibilityError(ValueError):
    """An adapter's sizes do not fit the SAM image encoder it is used with."""


#: Why in-encoder adapters refuse TinyViT (LiteMedSAM, MobileSAM).
TINY_VIT_REFUSAL = (
    "they hook into segment_anything's ViT blocks (one token width, a patch embedding, "
    "blocks of equal size), and TinyViT has a convolutional first stage and attention "
    "stages of three different widths with their own windows; use decoder-only tuning "
    "or CADAdapter (fusion_point='neck'), which work with every SAM encoder")


@dataclass(frozen=True)
class EncoderSpec:
    """Sizes of a SAM image encoder (``ImageEncoderViT`` or TinyViT).

    Args:
        name: SAM variant name (``sam.variant.name``), ``None`` when the
            encoder was given without its SAM.
        embed_dim: ViT token width (``None`` for TinyViT).
        depth: Number of ViT blocks (``None`` for TinyViT).
        img_size: Side of the square input frame, in pixels.
        patch_size: Patch side, in pixels (``None`` for TinyViT).
        out_channels: Channels of the encoder output (after the neck).
        family: ``'vit'`` or ``'tiny_vit'``.
        grid_size: Side of the output grid when it is not
            ``img_size // patch_size`` (TinyViT: 64).
    """

    name: Optional[str]
    embed_dim: Optional[int]
    depth: Optional[int]
    img_size: int
    patch_size: Optional[int]
    out_channels: int
    family: str = 'vit'
    grid_size: Optional[int] = None

    @property
    def label(self) -> str:
        """How error messages name the encoder: ``SAM variant 'vit_b'``."""
        return f'SAM variant {self.name!r}' if self.name else 'the SAM image encoder'

    @property
    def grid(self) -> int:
        """Side of the token / embedding grid, in cells (64 for the trained variants)."""
        if self.grid_size is not None:
            return self.grid_size
        return self.img_size // self.patch_size

    @classmethod
    def of(cls, sam_or_encoder: nn.Module) -> 'EncoderSpec':
        """Read the sizes of a SAM (or of its image encoder).

        Args:
            sam_or_encoder: ``segment_anything``'s ``Sam`` (anything with an
                ``image_encoder``), an ``ImageEncoderViT`` or a TinyViT.

        Raises:
            TypeError: The module is not a SAM image encoder of a known layout.
        """
        encoder = get_image_encoder(sam_or_encoder)
        variant = getattr(sam_or_encoder, 'variant', None)
        name = getattr(variant, 'name', None)
        out_channels = int(encoder.neck[0].out_channels)
        if _is_tiny_vit(encoder):
            # Not at module level: importing epsam.models.sam (its package face) imports
            # the embedding cache, which imports this module.
            from epsam.models.sam.building.variants import TinyViTSamVariant
            return cls(name=name, embed_dim=None, depth=None, img_size=int(encoder.img_size),
                       patch_size=None, out_channels=out_channels, family='tiny_vit',
                       grid_size=TinyViTSamVariant.GRID)
        proj = encoder.patch_embed.proj
        return cls(name=name, embed_dim=int(proj.out_channels), depth=len(encoder.blocks),
                   img_size=int(encoder.img_size), patch_size=int(proj.kernel_size[0]),
                   out_channels=out_channels)


def _is_tiny_vit(encoder: nn.Module) -> bool:
    return hasattr(encoder, 'layers') and hasattr(encoder, 'patch_embed') and \
        hasattr(encoder.patch_embed, 'seq')


def get_image_encoder(sam_or_encoder: nn.Module) -> nn.Module:
    """Return the image encoder of a SAM, or the encoder itself.

    Raises:
        TypeError: Neither a SAM nor an encoder of a known layout (a ViT with
            ``patch_embed.proj``, ``blocks``, ``neck`` and ``img_size``, or a
            TinyViT with ``patch_embed.seq``, ``layers``, ``neck`` and ``img_size``).
    """
    encoder = getattr(sam_or_encoder, 'image_encoder', sam_or_encoder)
    if _is_tiny_vit(encoder) and hasattr(encoder, 'neck') and hasattr(encoder, 'img_size'):
        return encoder
    needed = ('patch_embed', 'blocks', 'neck', 'img_size')
    missing = [name for name in needed if not hasattr(encoder, name)]
    if missing or not hasattr(encoder.patch_embed, 'proj'):
        missing = missing or ['patch_embed.proj']
        raise TypeError(f'expected segment_anything Sam, ImageEncoderViT or TinyViT, got '
                        f'{type(sam_or_encoder).__name__} (missing {missing})')
    return encoder


class BaseSamAdapter(nn.Module):
    """What every SAM adapter provides.

    Class attributes:
        encoder_needs_grad: Whether the frozen image encoder must run with
            autograd enabled for the adapter to train.
    """

    encoder_needs_grad: bool = False

    @property
    def supports_cached_embeddings(self) -> bool:
        """Whether precomputed encoder outputs can be used with this adapter.

        False for in-encoder adapters: a cached embedding was computed
        without them.
        """
        return False

    @classmethod
    def settings_support_cached_embeddings(cls, **settings) -> bool:
        """:attr:`supports_cached_embeddings` of an adapter built with ``settings``.

        Lets a caller decide from a config, before building anything, whether
        an embedding cache can be used.
        """
        return False

    @classmethod
    def encoder_families(cls, **settings) -> Tuple[str, ...]:
        """Encoder families (``EncoderSpec.family``) an adapter built with ``settings`` fits."""
        return ('vit', )

    @classmethod
    def check_family(cls, spec: EncoderSpec, **settings) -> None:
        """Refuse an encoder family the adapter cannot work with.

        Raises:
            AdapterCompatibilityError: Names the adapter, the SAM variant and why.
        """
        if spec.family in cls.encoder_families(**settings):
            return
        why = TINY_VIT_REFUSAL if spec.family == 'tiny_vit' else \
            f'it supports {cls.encoder_families(**settings)} encoders'
        raise AdapterCompatibilityError(
            f'{cls.__name__} cannot be used with {spec.label} (a {spec.family} image '
            f'encoder): {why}')

    @classmethod
    def encoder_defaults(cls, spec: EncoderSpec, **settings) -> Dict[str, Any]:
        """Constructor arguments that the encoder determines (e.g. ``embed_dim``).

        Args:
            spec: Sizes of the target encoder.
            **settings: The user's other constructor arguments, for adapters
                whose encoder-determined sizes depend on them.
        """
        raise NotImplementedError

    def expected_sizes(self) -> Dict[str, Tuple[str, int]]:
        """Map from an :class:`EncoderSpec` field to (constructor argument, value)."""
        raise NotImplementedError

    def check_compatible(self, sam_or_encoder: Union[nn.Module, EncoderSpec]) -> None:
        """Raise if the adapter does not fit the encoder.

        Args:
            sam_or_encoder: A SAM, its ``ImageEncoderViT`` or an :class:`EncoderSpec`.

        Raises:
            AdapterCompatibilityError: A size differs; the message names the
                SAM variant, the setting and both values.
            TypeError: Not a ``segment_anything`` ViT image encoder.
        """
        spec = sam_or_encoder if isinstance(sam_or_encoder, EncoderSpec) else \
            EncoderSpec.of(sam_or_encoder)
        self.check_family(spec, **self.family_settings())
        wrong = [f'{arg}={value} but the encoder has {field}={getattr(spec, field)}'
                 for field, (arg, value) in self.expected_sizes().items()
                 if getattr(spec, field) != value]
        if wrong:
            raise AdapterCompatibilityError(
                f'{type(self).__name__} does not fit {spec.label} '
                f'(embed_dim={spec.embed_dim}, depth={spec.depth}, grid={spec.grid}, '
                f'out_channels={spec.out_channels}): ' + '; '.join(wrong) +
                '. Build it with build_sam_adapter(cfg, sam) to take these from the encoder.')
        if not isinstance(sam_or_encoder, EncoderSpec):
            self._check_structure(get_image_encoder(sam_or_encoder), spec)

    def _check_structure(self, encoder: nn.Module, spec: EncoderSpec) -> None:
        """Check the layers the adapter hooks into; raise AdapterCompatibilityError."""

    def family_settings(self) -> Dict[str, Any]:
        """The constructor settings :meth:`encoder_families` depends on."""
        return {}


class ParallelSamAdapter(BaseSamAdapter):
    """An image network whose output is added to the frozen encoder's output.

    Subclasses implement ``forward(images) -> delta`` and set
    ``self.scale`` and ``self.fusion_point``:

    - ``'neck'``: ``delta`` is (B, out_channels, g, g) and is added to the
      encoder output (works with cached embeddings);
    - ``'blocks'``: ``delta`` is (B, embed_dim, g, g) and is added to the last
      ViT block's output before the (frozen) neck; backward then runs through
      the neck only.
    """

    encoder_needs_grad = False
    FUSION_POINTS = ('neck', 'blocks')
    DEFAULT_FUSION_POINT = 'neck'
    scale: float
    fusion_point: str

    @property
    def supports_cached_embeddings(self) -> bool:
        """True when the fusion uses the encoder output, so a cache of it can be reused."""
        return self.settings_support_cached_embeddings(fusion_point=self.fusion_point)

    @classmethod
    def settings_support_cached_embeddings(cls, **settings) -> bool:
        return settings.get('fusion_point', cls.DEFAULT_FUSION_POINT) == 'neck'

    @classmethod
    def encoder_families(cls, **settings) -> Tuple[str, ...]:
        # Fused after the neck, only the output grid matters; fused at the
        # blocks, the delta enters segment_anything's ViT token layout.
        if settings.get('fusion_point', cls.DEFAULT_FUSION_POINT) == 'neck':
            return ('vit', 'tiny_vit')
        return ('vit', )

    def family_settings(self) -> Dict[str, Any]:
        return dict(fusion_point=self.fusion_point)

    def fuse(self, embedding: Tensor, delta: Tensor) -> Tensor:
        """``embedding + scale * delta``, with a clear error on a shape mismatch.

        Args:
            embedding: Frozen encoder features (B, C, g, g).
            delta: This adapter's output (B, C, g, g).
        """
        if embedding.shape != delta.shape:
            raise AdapterCompatibilityError(
                f'{type(self).__name__}: adapter output {tuple(delta.shape)} does not match '
                f'the encoder features {tuple(embedding.shape)} at fusion point '
                f'{self.fusion_point!r}')
        return embedding + self.scale * delta

    def encode(self, image_encoder: nn.Module, encoder_input: Tensor,
               images: Union[Tensor, List[Tensor]]) -> Tensor:
        """Image embedding with the adapter fused in.

        The encoder runs under ``torch.no_grad`` (all of it for ``'neck'``
        fusion, all but the neck for ``'blocks'`` fusion); the adapter runs
        with autograd.

        Args:
            image_encoder: SAM's frozen ``ImageEncoderViT``.
            encoder_input: Normalised, padded SAM input (B, 3, S, S).
            images: The same images for the adapter: RGB 0-255, (B, 3, H, W)
                or a list of (3, H, W) (see the subclass's ``forward``).

        Returns:
            Embeddings (B, out_channels, g, g) for the mask decoder.
        """
        delta = self(images)
        if self.fusion_point == 'neck':
            with torch.no_grad():
                embedding = image_encoder(encoder_input)
            return self.fuse(embedding, delta)
        with torch.no_grad():
            tokens = image_encoder.patch_embed(encoder_input)
            if image_encoder.pos_embed is not None:
                tokens = tokens + image_encoder.pos_embed
            for block in image_encoder.blocks:
                tokens = block(tokens)
            features = tokens.permute(0, 3, 1, 2)
        return image_encoder.neck(self.fuse(features, delta))


class InEncoderSamAdapter(BaseSamAdapter):
    """Trainable signals added inside every ViT block through forward hooks.

    Subclasses build one set of trainable layers per block and implement
    :meth:`_register_hooks`, returning the hook handles.

    Args:
        embed_dim: ViT token width of the target encoder (768 for ``vit_b``).
        depth: Number of ViT blocks of the target encoder (12 for ``vit_b``).
    """

    encoder_needs_grad = True

    def __init__(self, embed_dim: int, depth: int) -> None:
        super().__init__()
        for name, value in (('embed_dim', embed_dim), ('depth', depth)):
            if int(value) != value or value < 1:
                raise ValueError(f'{type(self).__name__}: {name} must be a positive integer, '
                                 f'got {value!r}')
        self.embed_dim = int(embed_dim)
        self.depth = int(depth)
        self._handles: List[torch.utils.hooks.RemovableHandle] = []
        # The encoder it is installed on, in a tuple so that nn.Module does not
        # register it as a submodule (a deep copy of a model holding both
        # still maps it to the copied encoder).
        self._installed_on: Tuple[nn.Module, ...] = ()

    @classmethod
    def encoder_defaults(cls, spec: EncoderSpec, **settings) -> Dict[str, Any]:
        return dict(embed_dim=spec.embed_dim, depth=spec.depth)

    def expected_sizes(self) -> Dict[str, Tuple[str, int]]:
        return {'embed_dim': ('embed_dim', self.embed_dim), 'depth': ('depth', self.depth)}

    @property
    def is_installed(self) -> bool:
        """Whether the hooks are in place on an encoder."""
        return bool(self._handles)

    def install(self, image_encoder: nn.Module, freeze_encoder: bool = True) -> None:
        """Hook the adapter into ``image_encoder`` (in place).

        Args:
            image_encoder: ``ImageEncoderViT`` (or a SAM, whose encoder is used).
            freeze_encoder: Set ``requires_grad=False`` on the encoder's own
                parameters (the adapter's parameters are not among them).

        Raises:
            AdapterCompatibilityError: The encoder's sizes do not fit.
            RuntimeError: The adapter is already installed.
        """
        encoder = get_image_encoder(image_encoder)
        if self.is_installed:
            raise RuntimeError(f'{type(self).__name__} is already installed on an encoder; '
                               'call uninstall() first')
        self.check_compatible(image_encoder)
        if freeze_encoder:
            encoder.requires_grad_(False)
        self._handles = list(self._register_hooks(encoder))
        setattr(encoder, IN_ENCODER_ADAPTER_ATTR, type(self).__name__)
        self._installed_on = (encoder, )

    def uninstall(self) -> None:
        """Remove the hooks; the encoder computes its original function again."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        for encoder in self._installed_on:
            if hasattr(encoder, IN_ENCODER_ADAPTER_ATTR):
                delattr(encoder, IN_ENCODER_ADAPTER_ATTR)
        self._installed_on = ()

    def _register_hooks(self, encoder: nn.Module) -> List[torch.utils.hooks.RemovableHandle]:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f'embed_dim={self.embed_dim}, depth={self.depth}, installed={self.is_installed}'

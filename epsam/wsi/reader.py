"""Whole-slide readers: OpenSlide (with ``openslide-bin``) first, ``tiffslide`` as fallback.

Every reader follows the small :class:`SlideReader` protocol, so the rest of
:mod:`epsam.wsi` never touches a backend: level sizes and downsamples,
microns per pixel, ``read_region`` returning RGB uint8, and a thumbnail.
Regions that reach past the slide's edge are padded with white (background),
the same for every backend. The backends are imported only when a slide is
opened, so ``import epsam`` never needs them.
"""
import math
import os
from typing import Optional, Protocol, Sequence, Tuple, runtime_checkable

import cv2
import numpy as np

from .errors import MissingDependencyError, SlideReadError

__all__ = ['SlideReader', 'BaseSlideReader', 'OpenSlideReader', 'TiffSlideReader', 'open_slide',
           'BACKENDS', 'OPENSLIDE_PIP', 'TIFFSLIDE_PIP']

OPENSLIDE_PIP = 'openslide-python openslide-bin'
TIFFSLIDE_PIP = 'tiffslide'
#: Backend names in the order ``backend='auto'`` tries them.
BACKENDS = ('openslide', 'tiffslide')
#: Value of the padding outside the slide (white glass).
BACKGROUND = 255


@runtime_checkable
class SlideReader(Protocol):
    """What :mod:`epsam.wsi` needs from a slide.

    Attributes:
        path: The slide file.
        level_dimensions: ``(width, height)`` in pixels of each level, level 0 first.
        level_downsamples: Level-0 pixels per level pixel, per level (1.0 first).
        mpp: Microns per level-0 pixel, or None when the slide does not say.
    """

    path: str
    level_dimensions: Tuple[Tuple[int, int], ...]
    level_downsamples: Tuple[float, ...]
    mpp: Optional[float]

    def read_region(self, level: int, x: int, y: int, width: int, height: int) -> np.ndarray:
        """RGB uint8 ``(height, width, 3)``; ``(x, y)`` is the top-left in level-0 pixels."""

    def thumbnail(self, max_size: int = 1024) -> np.ndarray:
        """RGB uint8 picture of the whole slide, longest side at most ``max_size``."""

    def close(self) -> None:
        """Release the file."""


class BaseSlideReader:
    """Shared checks, edge padding and level choice; backends implement ``_read``.

    Args:
        path: Slide file.
        level_dimensions: ``(width, height)`` per level.
        level_downsamples: Level-0 pixels per level pixel, per level.
        mpp: Microns per level-0 pixel, or None.
    """

    backend = 'base'

    def __init__(self, path: str, level_dimensions: Sequence[Tuple[int, int]],
                 level_downsamples: Sequence[float], mpp: Optional[float]) -> None:
        self.path = str(path)
        self.level_dimensions = tuple((int(w), int(h)) for w, h in level_dimensions)
        self.level_downsamples = tuple(float(d) for d in level_downsamples)
        if not self.level_dimensions or min(min(d) for d in self.level_dimensions) < 1:
            raise SlideReadError(self.path, f'has no usable level (sizes {self.level_dimensions})')
        self.mpp = float(mpp) if mpp else None

    # --- levels -----------------------------------------------------------------
    @property
    def level_count(self) -> int:
        return len(self.level_dimensions)

    @property
    def dimensions(self) -> Tuple[int, int]:
        """``(width, height)`` of level 0."""
        return self.level_dimensions[0]

    def check_level(self, level: int) -> int:
        """Return ``level`` as an int, or raise :class:`SlideReadError` listing the levels."""
        if isinstance(level, bool) or not isinstance(level, (int, np.integer)) \
                or not 0 <= int(level) < self.level_count:
            levels = ', '.join(f'{i} (x{d:g}, {w}x{h})' for i, (d, (w, h)) in enumerate(
                zip(self.level_downsamples, self.level_dimensions)))
            raise SlideReadError(self.path, f'has no level {level!r}; its levels are {levels}')
        return int(level)

    def level_mpp(self, level: int) -> Optional[float]:
        """Microns per pixel at ``level`` (None when the slide has no mpp)."""
        level = self.check_level(level)
        return None if self.mpp is None else self.mpp * self.level_downsamples[level]

    def level_for_downsample(self, downsample: float) -> int:
        """The coarsest level whose downsample is at most ``downsample`` (level 0 if none)."""
        fitting = [i for i, d in enumerate(self.level_downsamples) if d <= downsample * 1.001]
        return max(fitting) if fitting else 0

    def level_for_mpp(self, mpp: float) -> Tuple[int, float]:
        """Level to read for a target resolution, and the extra downsample to apply.

        Args:
            mpp: Wanted microns per pixel.

        Returns:
            tuple: the coarsest level at least as fine as ``mpp`` and the factor
            (>= 1) by which its pixels must still be shrunk.
        """
        if self.mpp is None:
            raise SlideReadError(self.path, 'has no microns-per-pixel metadata; give a level '
                                 'instead of --mpp (or pass mpp= when opening it)')
        if not mpp > 0:
            raise ValueError(f'mpp must be positive, got {mpp}')
        wanted = mpp / self.mpp
        if wanted < 0.999:
            raise SlideReadError(self.path, f'cannot be read at {mpp} um/px: level 0 is '
                                 f'{self.mpp:.4g} um/px')
        level = self.level_for_downsample(wanted)
        return level, max(1.0, wanted / self.level_downsamples[level])

    # --- reading ----------------------------------------------------------------
    def read_region(self, level: int, x: int, y: int, width: int, height: int) -> np.ndarray:
        """Read a region as RGB uint8; pixels outside the slide are white.

        Args:
            level: Pyramid level.
            x, y: Top-left corner in level-0 pixels.
            width, height: Size in pixels of ``level``.

        Returns:
            np.ndarray: ``(height, width, 3)`` RGB uint8.
        """
        level = self.check_level(level)
        if int(width) < 1 or int(height) < 1:
            raise SlideReadError(self.path, f'region size must be positive, got {width}x{height}')
        width, height = int(width), int(height)
        scale = self.level_downsamples[level]
        level_w, level_h = self.level_dimensions[level]
        left, top = int(round(x / scale)), int(round(y / scale))
        x0, y0 = max(left, 0), max(top, 0)
        x1, y1 = min(left + width, level_w), min(top + height, level_h)
        out = np.full((height, width, 3), BACKGROUND, np.uint8)
        if x1 <= x0 or y1 <= y0:
            return out
        try:
            part = self._read(level, int(round(x0 * scale)), int(round(y0 * scale)),
                              x1 - x0, y1 - y0)
        except Exception as error:  # backend errors differ; name the file and region
            raise SlideReadError(self.path, f'reading {x1 - x0}x{y1 - y0} px at level {level} '
                                 f'from ({x}, {y}) failed: {error}') from error
        out[y0 - top:y1 - top, x0 - left:x1 - left] = to_rgb(part)
        return out

    def read_level(self, level: int) -> np.ndarray:
        """The whole of ``level`` as RGB uint8 ``(height, width, 3)``; keep it to small levels."""
        width, height = self.level_dimensions[self.check_level(level)]
        return self.read_region(level, 0, 0, width, height)

    def thumbnail(self, max_size: int = 1024) -> np.ndarray:
        """RGB uint8 thumbnail, longest side at most ``max_size`` (read from the smallest
        level that is at least that big, then shrunk)."""
        width, height = self.dimensions
        target = min(1.0, max_size / max(width, height))
        level = self.level_for_downsample(1.0 / target)
        image = self.read_level(level)
        size = (max(1, int(round(width * target))), max(1, int(round(height * target))))
        if (image.shape[1], image.shape[0]) != size:
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        return image

    def _read(self, level: int, x: int, y: int, width: int, height: int) -> np.ndarray:
        raise NotImplementedError

    def close(self) -> None:
        """Release the backend's file handle."""

    def __enter__(self) -> 'BaseSlideReader':
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f'{type(self).__name__}({self.path!r}, levels={self.level_dimensions}, '
                f'mpp={self.mpp})')


def to_rgb(region: np.ndarray) -> np.ndarray:
    """RGB uint8 from a backend's gray / RGB / RGBA array (alpha composited on white)."""
    region = np.asarray(region)
    if region.ndim == 2:
        region = region[..., None]
    if region.shape[-1] == 1:
        region = np.repeat(region, 3, axis=-1)
    if region.shape[-1] == 4:
        alpha = region[..., 3:4].astype(np.float32) / 255.0
        region = region[..., :3] * alpha + BACKGROUND * (1.0 - alpha)
        region = np.rint(region)
    return region[..., :3].astype(np.uint8)


def _float_property(properties, *keys) -> Optional[float]:
    for key in keys:
        try:
            value = float(properties.get(key))
        except (TypeError, ValueError):
            continue
        if math.isfinite(value) and value > 0:
            return value
    return None


class _LibrarySlideReader(BaseSlideReader):
    """A backend over a library whose slide objects have OpenSlide's API.

    Subclasses implement ``_open(path)`` (import the library, open the slide,
    raise the errors) and ``_read``, and name ``mpp_property``.

    Args:
        path: Slide file.
        mpp: Microns per level-0 pixel, overriding the slide's metadata.
    """

    mpp_property = ''

    def __init__(self, path: str, mpp: Optional[float] = None) -> None:
        self._slide = self._open(str(path))
        try:  # tiffslide opens lazily: a truncated file fails here, not in _open
            mpp = mpp or _float_property(self._slide.properties, self.mpp_property)
            levels = (self._slide.level_dimensions, self._slide.level_downsamples)
        except Exception as error:
            self._slide.close()
            raise SlideReadError(path, f'{self.backend} cannot read its levels and metadata '
                                 f'({type(error).__name__}: {error}); is the file truncated '
                                 'or damaged (an interrupted copy)?') from error
        super().__init__(path, *levels, mpp)

    def _open(self, path: str):
        raise NotImplementedError

    def close(self) -> None:
        self._slide.close()


class OpenSlideReader(_LibrarySlideReader):
    """OpenSlide backend (``pip install openslide-python openslide-bin``).

    Args:
        path: Slide file (any format OpenSlide reads: SVS, MRXS, NDPI, tiled TIFF, ...).
        mpp: Microns per level-0 pixel, overriding the slide's metadata.
    """

    backend = 'openslide'
    mpp_property = 'openslide.mpp-x'

    def _open(self, path: str):
        try:
            import openslide
        except ImportError:
            raise MissingDependencyError(OPENSLIDE_PIP, 'Reading slides with OpenSlide') from None
        try:
            return openslide.OpenSlide(path)
        except Exception as error:
            raise SlideReadError(path, f'OpenSlide cannot open it ({error})') from error

    def _read(self, level, x, y, width, height):
        return np.asarray(self._slide.read_region((x, y), level, (width, height)))


class TiffSlideReader(_LibrarySlideReader):
    """``tiffslide`` backend (``pip install tiffslide``): pure Python, TIFF-based formats.

    Args:
        path: Slide file (SVS, pyramidal TIFF, NDPI, ...).
        mpp: Microns per level-0 pixel, overriding the slide's metadata.
    """

    backend = 'tiffslide'
    mpp_property = 'tiffslide.mpp-x'

    def _open(self, path: str):
        try:
            import tiffslide
        except ImportError:
            raise MissingDependencyError(TIFFSLIDE_PIP, 'Reading slides with tiffslide') from None
        try:
            return tiffslide.TiffSlide(path)
        except Exception as error:
            raise SlideReadError(path, f'tiffslide cannot open it ({error})') from error

    def _read(self, level, x, y, width, height):
        return self._slide.read_region((x, y), level, (width, height), as_array=True)


_READERS = {'openslide': OpenSlideReader, 'tiffslide': TiffSlideReader}


def open_slide(path: str, backend: str = 'auto', mpp: Optional[float] = None) -> BaseSlideReader:
    """Open a whole-slide image.

    Args:
        path: Slide file.
        backend: ``'openslide'``, ``'tiffslide'`` or ``'auto'`` (OpenSlide when it is
            installed and reads the file, else tiffslide).
        mpp: Microns per level-0 pixel, for slides without that metadata.

    Raises:
        SlideReadError: Missing file, or no backend reads it (the message gives
            each backend's reason).
        MissingDependencyError: No backend is installed.
    """
    if not os.path.isfile(path):
        raise SlideReadError(path, 'does not exist or is not a file')
    if backend != 'auto':
        if backend not in _READERS:
            raise ValueError(f'unknown slide backend {backend!r}; use one of {BACKENDS} or "auto"')
        return _READERS[backend](path, mpp=mpp)
    reasons, missing = [], []
    for name in BACKENDS:
        try:
            return _READERS[name](path, mpp=mpp)
        except MissingDependencyError:
            missing.append(name)
        except SlideReadError as error:
            reasons.append(error.reason)
    if not reasons:
        raise MissingDependencyError(f'{OPENSLIDE_PIP} (or {TIFFSLIDE_PIP})', 'Reading slides')
    raise SlideReadError(path, 'is not a whole-slide image any installed backend reads: '
                         + '; '.join(reasons))

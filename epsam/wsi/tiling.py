"""A grid of square tiles over a slide, at a pyramid level or a resolution in microns per pixel.

All tile coordinates are level-0 pixels. A tile of ``size`` output pixels is
read as ``read_size`` pixels of ``level`` (equal when a level is asked for;
bigger when a resolution between two levels is asked for, then shrunk with
area interpolation) and covers ``extent`` level-0 pixels.
"""
import collections
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Iterator, List, Optional, Tuple

import cv2
import numpy as np

from .level_mask import LevelMask
from .reader import BaseSlideReader

__all__ = ['Tile', 'TileLayout', 'tile_layout', 'plan_tiles', 'read_tile', 'iter_tile_batches']


@dataclass(frozen=True)
class TileLayout:
    """How tiles are read.

    Args:
        level: Pyramid level read.
        read_size: Side in pixels of ``level`` read per tile.
        size: Side in pixels of the tile handed out.
        extent: Side of a tile in level-0 pixels.
        stride: Step between tiles in level-0 pixels.
    """

    level: int
    read_size: int
    size: int
    extent: int
    stride: int

    @property
    def downsample(self) -> float:
        """Level-0 pixels per output tile pixel."""
        return self.extent / self.size


@dataclass(frozen=True)
class Tile:
    """One tile: top-left ``(x, y)`` in level-0 pixels and its tissue fraction."""

    x: int
    y: int
    tissue_fraction: float

    @property
    def name(self) -> str:
        return f'{self.x}_{self.y}'


def tile_layout(reader: BaseSlideReader, tile_size: int, level: Optional[int] = None,
                mpp: Optional[float] = None, stride: Optional[int] = None) -> TileLayout:
    """Resolve a tile size and a level or resolution into a :class:`TileLayout`.

    Args:
        reader: The slide.
        tile_size: Tile side in output pixels.
        level: Pyramid level (exclusive with ``mpp``; both None = level 0).
        mpp: Wanted microns per output pixel.
        stride: Step between tiles in output pixels (None = ``tile_size``, no overlap).
    """
    if isinstance(tile_size, bool) or int(tile_size) != tile_size or tile_size < 1:
        raise ValueError(f'tile size must be a positive int, got {tile_size!r}')
    stride = tile_size if stride is None else stride
    if isinstance(stride, bool) or int(stride) != stride or stride < 1:
        raise ValueError(f'stride must be a positive int, got {stride!r}')
    if level is not None and mpp is not None:
        raise ValueError('give a level or a resolution (mpp), not both')
    if mpp is not None:
        level, factor = reader.level_for_mpp(mpp)
    else:
        level, factor = reader.check_level(0 if level is None else level), 1.0
    downsample = reader.level_downsamples[level]
    read_size = int(round(tile_size * factor))
    return TileLayout(level=level, read_size=read_size, size=int(tile_size),
                      extent=int(round(read_size * downsample)),
                      stride=max(1, int(round(stride * factor * downsample))))


def _starts(length: int, extent: int, stride: int, cover_edges: bool) -> np.ndarray:
    if cover_edges:
        count = max(1, math.ceil(max(length - extent, 0) / stride) + 1)
    else:
        count = max(0, (length - extent) // stride + 1)
    return np.arange(count, dtype=np.int64) * stride


def plan_tiles(reader: BaseSlideReader, layout: TileLayout, tissue: Optional[LevelMask] = None,
               min_tissue: float = 0.5, cover_edges: bool = False) -> List[Tile]:
    """The tiles of a regular grid that lie on tissue, in row-major order.

    Args:
        reader: The slide.
        layout: Tile geometry (:func:`tile_layout`).
        tissue: Tissue mask; None keeps every tile (tissue fraction 1).
        min_tissue: Smallest tissue fraction of a kept tile, in [0, 1].
        cover_edges: Add a last row/column that reaches past the slide's edge
            (read as white) so the grid covers the whole slide; otherwise
            only tiles fully inside the slide are made.
    """
    if not 0.0 <= min_tissue <= 1.0:
        raise ValueError(f'min_tissue is a fraction in [0, 1], got {min_tissue}')
    width, height = reader.dimensions
    xs = _starts(width, layout.extent, layout.stride, cover_edges)
    ys = _starts(height, layout.extent, layout.stride, cover_edges)
    grid_y, grid_x = np.meshgrid(ys, xs, indexing='ij')
    grid_x, grid_y = grid_x.ravel(), grid_y.ravel()
    if tissue is None:
        fractions = np.ones(grid_x.shape)
    else:
        boxes = np.stack([grid_x, grid_y, np.full_like(grid_x, layout.extent),
                          np.full_like(grid_x, layout.extent)], axis=1)
        fractions = tissue.fractions(boxes)
    keep = fractions >= min_tissue if tissue is not None else np.ones(grid_x.shape, bool)
    if tissue is not None and min_tissue == 0.0:
        keep = fractions > 0
    return [Tile(int(x), int(y), float(f))
            for x, y, f in zip(grid_x[keep], grid_y[keep], fractions[keep])]


def read_tile(reader: BaseSlideReader, layout: TileLayout, tile: Tile) -> np.ndarray:
    """The tile's pixels, RGB uint8 ``(size, size, 3)``."""
    image = reader.read_region(layout.level, tile.x, tile.y, layout.read_size, layout.read_size)
    if layout.read_size != layout.size:
        image = cv2.resize(image, (layout.size, layout.size), interpolation=cv2.INTER_AREA)
    return image


def iter_tile_batches(reader: BaseSlideReader, layout: TileLayout, tiles: List[Tile],
                      batch_size: int, workers: int = 4,
                      prefetch: int = 2) -> Iterator[Tuple[List[Tile], np.ndarray]]:
    """Yield ``(batch, images)`` in order, tiles read by a thread pool ahead of use.

    The backends decode tiles outside the GIL (OpenSlide through ctypes,
    tiffslide through imagecodecs), so threads overlap reading with the
    model and with each other.

    Args:
        reader: The slide (OpenSlide and tiffslide handles are thread-safe).
        layout: Tile geometry.
        tiles: Tiles to read.
        batch_size: Tiles per batch.
        workers: Reading threads; 1 reads each tile when its batch is asked for.
        prefetch: Batches queued ahead of the one being consumed.

    Yields:
        tuple: the batch's tiles and their RGB uint8 ``(B, size, size, 3)`` pixels.
    """
    batches = [tiles[i:i + batch_size] for i in range(0, len(tiles), max(1, batch_size))]
    if workers <= 1:
        for batch in batches:
            yield batch, np.stack([read_tile(reader, layout, tile) for tile in batch])
        return
    pool = ThreadPoolExecutor(workers, thread_name_prefix='epsam-tiles')
    queued = collections.deque()
    try:
        for batch in batches[:prefetch + 1]:
            queued.append((batch, [pool.submit(read_tile, reader, layout, t) for t in batch]))
        for upcoming in range(prefetch + 1, len(batches) + prefetch + 1):
            batch, futures = queued.popleft()
            if upcoming < len(batches):
                queued.append((batches[upcoming], [pool.submit(read_tile, reader, layout, t)
                                                   for t in batches[upcoming]]))
            yield batch, np.stack([future.result() for future in futures])
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def layout_dict(layout: TileLayout) -> dict:
    """The layout as a plain dict (for summaries and cache fingerprints)."""
    return asdict(layout)

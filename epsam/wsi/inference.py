"""Stitched whole-slide inference: tissue tiles -> tile predictor -> slide-level outputs.

Every tile's probability map is resized to its footprint at the output level
and cached as ``{cache}/{x}_{y}.npy`` (float16, written atomically), so a
rerun only predicts the missing tiles. Tiles are sharded over ranks
(``tiles[rank::world_size]``); after a barrier, rank 0 stitches the cached
maps and writes the outputs. The cache folder holds a ``meta.json``
fingerprint (slide, model, tiling, output level); a cache made with other
settings is refused rather than mixed in.
"""
import io
import json
import os
from typing import List, Optional

import numpy as np

from epsam.fileio.atomic_io import atomic_write_bytes, atomic_write_json
from epsam.utils.progress import progress_bar

from .errors import WSIError
from .export import heatmap_overlay, mask_to_geojson, write_geojson, write_png, write_pyramidal_tiff
from .level_mask import LevelMask
from .postprocess import MaskCleaning
from .predictors import TilePredictor
from .reader import BaseSlideReader
from .stitching import SlideStitcher
from .tiling import Tile, TileLayout, iter_tile_batches, layout_dict

__all__ = ['TileCache', 'predict_tiles', 'stitch_cached_tiles', 'write_slide_outputs',
           'output_paths', 'tiling_fingerprint']


class TileCache:
    """Per-tile probability maps at the output resolution, one ``.npy`` file each.

    Args:
        folder: Cache folder of one slide.
        fingerprint: JSON-able description of everything the maps depend on.
    """

    def __init__(self, folder: str, fingerprint: dict) -> None:
        self.folder = folder
        self.fingerprint = json.loads(json.dumps(fingerprint, sort_keys=True))

    @property
    def meta_path(self) -> str:
        return os.path.join(self.folder, 'meta.json')

    def prepare(self, write: bool) -> None:
        """Check an existing cache was made with the same settings; write the
        fingerprint when ``write`` (rank 0) and there is none yet."""
        if os.path.isfile(self.meta_path):
            with open(self.meta_path, encoding='utf-8') as stream:
                found = json.load(stream)
            if found != self.fingerprint:
                changed = sorted(k for k in set(found) | set(self.fingerprint)
                                 if found.get(k) != self.fingerprint.get(k))
                raise WSIError(self.folder, f'holds tiles predicted with other settings '
                               f'({", ".join(changed)} differ); delete it or use another --out')
        elif write:
            atomic_write_json(self.meta_path, self.fingerprint)

    def path(self, tile: Tile) -> str:
        return os.path.join(self.folder, f'{tile.name}.npy')

    def has(self, tile: Tile) -> bool:
        return os.path.isfile(self.path(tile))

    def save(self, tile: Tile, prob: np.ndarray) -> None:
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(prob, np.float16), allow_pickle=False)
        atomic_write_bytes(self.path(tile), buffer.getvalue())

    def load(self, tile: Tile) -> np.ndarray:
        try:
            return np.load(self.path(tile), allow_pickle=False).astype(np.float32)
        except (OSError, ValueError) as error:
            raise WSIError(self.path(tile), f'is not a readable tile map ({error}); delete '
                           'it and rerun') from None


def predict_tiles(reader: BaseSlideReader, layout: TileLayout, tiles: List[Tile],
                  predictor: TilePredictor, stitcher: SlideStitcher, cache: TileCache,
                  batch_size: int = 8, rank: int = 0, world_size: int = 1,
                  progress: bool = True, workers: int = 4) -> int:
    """Predict this rank's share of the tiles that are not cached yet.

    Args:
        reader: The slide.
        layout: Tile geometry.
        tiles: All tiles of the slide (every rank passes the same list).
        predictor: The tile predictor.
        stitcher: Gives each tile's output box (nothing is accumulated here).
        cache: Where the maps go.
        batch_size: Tiles per predictor call.
        rank, world_size: This process's share is ``tiles[rank::world_size]``.
        progress: Show a progress bar.
        workers: Threads reading tiles ahead of the predictor (1 = read in turn).

    Returns:
        int: The number of tiles predicted (cached ones excluded).
    """
    todo = [t for t in tiles[rank::world_size] if not cache.has(t)]
    bar = progress_bar(len(todo), progress, label='tiles: ')
    try:
        for batch, images in iter_tile_batches(reader, layout, todo, batch_size, workers):
            probs = np.asarray(predictor(images))
            if probs.shape != images.shape[:3]:
                raise ValueError(f'the tile predictor returned shape {probs.shape} for tiles '
                                 f'of shape {images.shape}; expected {images.shape[:3]}')
            for tile, prob in zip(batch, probs):
                cache.save(tile, stitcher.resize_to_box(np.clip(prob, 0, 1), tile.x, tile.y,
                                                        layout.extent))
            bar.update(len(batch))
    finally:
        bar.close()
    return len(todo)


def stitch_cached_tiles(tiles: List[Tile], layout: TileLayout, stitcher: SlideStitcher,
                        cache: TileCache) -> SlideStitcher:
    """Add every tile's cached map to ``stitcher`` (raises when one is missing)."""
    missing = [t.name for t in tiles if not cache.has(t)]
    if missing:
        raise WSIError(cache.folder, f'{len(missing)} tile map(s) are missing (e.g. '
                       f'{missing[:3]}); did a rank fail? Rerun to predict them')
    for tile in tiles:
        stitcher.add(cache.load(tile), tile.x, tile.y, layout.extent)
    return stitcher


def output_paths(out_dir: str, slide_name: str) -> dict:
    """Where :func:`write_slide_outputs` writes each file of a slide."""
    join = os.path.join
    return dict(heatmap=join(out_dir, f'{slide_name}_heatmap.png'),
                mask=join(out_dir, f'{slide_name}_mask.tif'),
                geojson=join(out_dir, f'{slide_name}_tumour.geojson'),
                summary=join(out_dir, f'{slide_name}_summary.json'))


def write_slide_outputs(out_dir: str, slide_name: str, reader: BaseSlideReader,
                        stitcher: SlideStitcher, threshold: float, summary: dict,
                        thumbnail_size: int = 1024, tissue: Optional[LevelMask] = None,
                        cleaning: Optional[MaskCleaning] = None) -> dict:
    """Write the heatmap overlay, the label mask TIFF, the GeoJSON and (last) the summary.

    Args:
        out_dir: Output folder.
        slide_name: File-name stem of the outputs.
        reader: The slide (for the thumbnail and mpp).
        stitcher: The stitched maps (may hold no tile: an explicit empty result).
        threshold: Probability at or above which a pixel is tumour.
        summary: Extra fields of the summary JSON.
        thumbnail_size: Longest side of the heatmap picture.
        tissue: The tissue mask; predictions off tissue (glass) are dropped
            from every output. None keeps them.
        cleaning: Hole filling and small-region removal (None = none).

    Returns:
        dict: The summary written.
    """
    paths = output_paths(out_dir, slide_name)
    prob = stitcher.probability()
    on_tissue = stitcher.coverage if tissue is None \
        else stitcher.coverage & tissue.on_grid(stitcher.width, stitcher.height)
    mpp = None if reader.mpp is None else reader.mpp * stitcher.downsample
    raw = (prob >= threshold) & stitcher.coverage
    labels, changes = (cleaning or MaskCleaning(0, 0))(raw, mpp, on_tissue)
    labels = labels.astype(np.uint8)
    write_png(paths['heatmap'], heatmap_overlay(reader.thumbnail(thumbnail_size), prob, on_tissue))
    levels = write_pyramidal_tiff(paths['mask'], labels, mpp=mpp)
    scale = (reader.dimensions[0] / stitcher.width, reader.dimensions[1] / stitcher.height)
    collection = mask_to_geojson(labels, scale)
    write_geojson(paths['geojson'], collection)
    pixel_area = (mpp ** 2 * 1e-6) if mpp else None  # mm^2 per output pixel
    tumour_pixels = int(labels.sum())
    summary = dict(summary, outputs={k: os.path.basename(v) for k, v in paths.items()},
                   output_size=[stitcher.width, stitcher.height],
                   output_downsample=stitcher.downsample, mask_levels=levels,
                   threshold=threshold, tiles_stitched=stitcher.tiles_added,
                   masked_by_tissue=tissue is not None,
                   min_area_um2=cleaning.min_area_um2 if cleaning else 0.0,
                   min_hole_um2=cleaning.min_hole_um2 if cleaning else 0.0,
                   pixels_changed_by_cleaning=changes,
                   tumour_pixels=tumour_pixels, tumour_polygons=len(collection['features']),
                   tumour_area_mm2=None if pixel_area is None else tumour_pixels * pixel_area,
                   max_probability=float(prob.max()) if prob.size else 0.0)
    atomic_write_json(paths['summary'], summary)
    return summary


def tiling_fingerprint(layout: TileLayout, **extra) -> dict:
    """Fingerprint of the tiling plus any extra JSON-able settings."""
    return dict(layout=layout_dict(layout), **extra)

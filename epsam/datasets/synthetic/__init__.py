"""Synthetic H&E-like patches: the default data of the demo and the tests.

``render_patch`` paints an RGB patch from a label map (0 tumour, 1 stroma,
2 lymphocytes, 3 necrosis, 4 background); ``camelyon_class_map`` and
``bcss_class_map`` draw such label maps; ``generate_camelyon_like`` and
``generate_bcss_like`` write whole datasets in the Camelyon (EP-SAM) and
BCSS-WSSS layouts. Everything is deterministic given the seed.
"""
from .he_texture import (BACKGROUND, DEFAULT_STYLES, LYMPHOCYTES, NECROSIS, STROMA, TISSUE_CLASSES,
                         TUMOUR, TissueStyle, render_patch, smooth_field)
from .label_maps import bcss_class_map, blob_mask, camelyon_class_map, class_presence
from .layouts import BCSS_PALETTE, generate_bcss_like, generate_camelyon_like, patch_rng
from .nuclei import NucleusStyle, paint_nuclei

__all__ = [
    'render_patch', 'smooth_field', 'TissueStyle', 'DEFAULT_STYLES', 'TISSUE_CLASSES', 'TUMOUR',
    'STROMA', 'LYMPHOCYTES', 'NECROSIS', 'BACKGROUND', 'bcss_class_map', 'blob_mask',
    'camelyon_class_map', 'class_presence', 'generate_bcss_like', 'generate_camelyon_like',
    'BCSS_PALETTE', 'patch_rng', 'NucleusStyle', 'paint_nuclei'
]

"""Provenance of a benchmark row: which SAM weights, which data, from which config.

Every row names its SAM weights in one short form (``sam_weights``):

* ``'stand-in (random tiny)'``: a randomly initialised SAM, not a trained one;
* ``'LiteMedSAM lite_medsam.pth (...), sha256 79d8c9dca6db'``: trained weights,
  with the first 12 hex digits of the file's SHA-256 when known;
* ``'none'``: the method runs no SAM (CAM maps, a segmenter trained on CAM labels).
"""
import os.path as osp
from typing import Optional, Tuple

from epsam.fileio.fingerprints import file_sha256
from epsam.models.sam.building.builder import resolve_sam_weights

from .published import canonical_dataset

__all__ = ['NO_SAM', 'SHA_PREFIX', 'weights_label', 'sam_weights_of_config',
           'method_of_config', 'dataset_of_config']

#: ``sam_weights`` of a method that runs no SAM.
NO_SAM = 'none'
#: Hex digits of the SHA-256 a row keeps.
SHA_PREFIX = 12


def weights_label(weights, variant: str = '') -> str:
    """The ``sam_weights`` text of a :class:`~epsam.models.sam.building.builder.SamWeights`.

    Args:
        weights: Where SAM's weights came from.
        variant: The SAM variant, named in the stand-in label.
    """
    if weights.is_stand_in:
        return f'stand-in (random {variant})' if variant else 'stand-in (random)'
    sha = weights.sha256
    if sha is None and osp.isfile(weights.path):
        sha = file_sha256(weights.path)
    return weights.description + (f', sha256 {sha[:SHA_PREFIX]}' if sha else
                                  ', sha256 unknown (file not found)')


def sam_weights_of_config(cfg) -> Tuple[Optional[str], bool]:
    """``(sam_weights, stand_in)`` of a config's ``model.sam``; ``(None, False)``
    when the model has no SAM."""
    sam = cfg.get('model', {}).get('sam') if cfg is not None else None
    if sam is None:
        return None, False
    variant = sam.get('variant', 'vit_b')
    weights = resolve_sam_weights(variant, sam.get('checkpoint'), sam.get('pretrained', True))
    return weights_label(weights, variant), weights.is_stand_in


def method_of_config(cfg, stem: str) -> str:
    """``method_name`` of the config, else ``'{model type} ({config stem})'``."""
    if cfg is None:
        return stem
    if cfg.get('method_name'):
        return str(cfg.method_name)
    kind = str(cfg.get('model', {}).get('type', '')).split('.')[-1]
    return f'{kind} ({stem})' if kind else stem


def dataset_of_config(cfg) -> str:
    """``dataset_name`` of the config, else the test dataset's published name
    (or class) with its data folder, e.g. ``'CamelyonPatchDataset (synthetic_camelyon)'``."""
    if cfg is None or 'test_dataloader' not in cfg:
        return 'unknown'
    if cfg.get('dataset_name'):
        return str(cfg.dataset_name)
    dataset = cfg.test_dataloader.dataset
    name = canonical_dataset(dataset.get('source_dataset') or dataset.get('type', 'unknown'))
    root = dataset.get('data_root') or cfg.get('data_root')
    return f'{name} ({osp.basename(osp.normpath(root))})' if root else name

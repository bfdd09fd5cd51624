"""On-disk formats and safe file I/O: the lowest layer every stage imports downward.

Atomic writes (:mod:`.atomic_io`), content fingerprints (:mod:`.fingerprints`),
patch images and masks (:mod:`.patch_io`, :mod:`.listing`), the CAM stage's
files and label PNGs (:mod:`.cam_store`), work items and their stems
(:mod:`.items`), per-item output folders (:mod:`.item_folder`) and the
errors that name a bad file (:mod:`.errors`). Nothing here imports another
epsam package except :mod:`epsam.utils.errors`.
"""
from .atomic_io import atomic_output, atomic_write_bytes, atomic_write_json, atomic_write_text
from .cam_store import CamFileError, CamRecord, load_cam, load_label_png, save_cam, save_label_png
from .errors import (DatasetFilesError, EmptySplitError, FileProblem, LabelParseError,
                     NoPositivePatchError, PatchFileError)
from .fingerprints import file_sha256, weights_fingerprint
from .items import PseudoLabelItem, file_stem, item_rng, items_from_cam_dir

__all__ = [
    'atomic_output', 'atomic_write_bytes', 'atomic_write_json', 'atomic_write_text',
    'CamFileError', 'CamRecord', 'load_cam', 'load_label_png', 'save_cam', 'save_label_png',
    'DatasetFilesError', 'EmptySplitError', 'FileProblem', 'LabelParseError',
    'NoPositivePatchError', 'PatchFileError', 'file_sha256', 'weights_fingerprint',
    'PseudoLabelItem', 'file_stem', 'item_rng', 'items_from_cam_dir'
]

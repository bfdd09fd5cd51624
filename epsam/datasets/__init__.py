"""Patch-level datasets, the pseudo-label dataset and the synthetic generator."""
import mmseg.datasets  # noqa: F401  (fills the parent registries)

from epsam.fileio.errors import (DatasetFilesError, EmptySplitError, FileProblem, LabelParseError,
                                 NoPositivePatchError, PatchFileError)

from .bcss_wsss import BCSSWSSSDataset
from .camelyon import CamelyonPatchDataset
from .csv_patch import CSVPatchDataset
from .label_parsers import (LABEL_PARSERS, BaseLabelParser, BCSSLabelParser, BracketLabelParser,
                            CamelyonLabelParser, CSVLabelParser, LUADHistoSegLabelParser,
                            WSSS4LUADLabelParser, build_label_parser)
from .luad_histoseg import LUADHistoSegDataset
from .patch_dataset import PatchClassificationDataset
from .pseudo_label_dataset import PseudoLabelDataset
from .sam_mask_dataset import SamMaskDataset
from .scan import ScanReport, scan_dataset
from .synthetic import generate_bcss_like, generate_camelyon_like, render_patch
from .transforms import (GenerateMaskPrompts, LoadCamPrompts, LoadPatchAnnotations, LoadPatchImage,
                         PackPatchInputs, PackSamInputs, RandomRotate90)
from .wsss4luad import WSSS4LUADDataset

__all__ = [
    'PatchClassificationDataset', 'CamelyonPatchDataset', 'BCSSWSSSDataset',
    'LUADHistoSegDataset', 'WSSS4LUADDataset', 'CSVPatchDataset', 'PseudoLabelDataset',
    'LABEL_PARSERS', 'BaseLabelParser', 'CamelyonLabelParser', 'BracketLabelParser',
    'BCSSLabelParser', 'LUADHistoSegLabelParser', 'WSSS4LUADLabelParser', 'CSVLabelParser',
    'build_label_parser', 'PatchFileError', 'LabelParseError', 'EmptySplitError',
    'DatasetFilesError', 'FileProblem', 'scan_dataset', 'ScanReport', 'LoadPatchImage',
    'LoadPatchAnnotations', 'PackPatchInputs', 'RandomRotate90', 'generate_bcss_like',
    'generate_camelyon_like', 'render_patch', 'SamMaskDataset', 'GenerateMaskPrompts',
    'LoadCamPrompts', 'PackSamInputs', 'NoPositivePatchError'
]

"""epsam: weakly supervised histopathology segmentation with CAM-prompted SAM.

Importing ``epsam`` installs the pure-PyTorch fallback for the few compiled
``mmcv.ops`` that mmsegmentation imports at module load, when (and only when)
mmcv's compiled extension is missing (the default ``mmcv-lite`` install). With
full mmcv installed nothing is replaced. Import ``epsam`` before ``mmseg.models``.
"""
from .compat.mmcv_ops import install_mmcv_ops_fallback
from .version import __version__

install_mmcv_ops_fallback()

__all__ = ['__version__', 'install_mmcv_ops_fallback']

"""epsam: weakly supervised histopathology segmentation with CAM-prompted SAM.

Importing ``epsam`` installs the pure-PyTorch fallback for the few compiled
``mmcv.ops`` that mmsegmentation imports at module load, when (and only when)
mmcv's compiled extension is missing (the default ``mmcv-lite`` install). With
full mmcv installed nothing is replaced. Import ``epsam`` before ``mmseg.models``.

It also refuses to start when ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` is set
(with it, a checkpoint can run code); importing ``epsam.models`` makes
mmengine's checkpoint loader pass ``weights_only=True`` explicitly.
"""
from .compat.mmcv_ops import install_mmcv_ops_fallback
from .engine.checkpoint_loading import check_torch_load_environment
from .version import __version__

check_torch_load_environment()
install_mmcv_ops_fallback()

__all__ = ['__version__', 'install_mmcv_ops_fallback']

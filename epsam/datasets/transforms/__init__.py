"""Data transforms for patch datasets."""
from .formatting import PackPatchInputs
from .geometric import RandomRotate90
from .loading import LoadPatchAnnotations, LoadPatchImage

__all__ = ['LoadPatchImage', 'LoadPatchAnnotations', 'PackPatchInputs', 'RandomRotate90']

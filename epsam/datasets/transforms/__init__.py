"""Data transforms for patch datasets and SAM prompts."""
from .formatting import PackPatchInputs
from .geometric import RandomRotate90
from .loading import LoadPatchAnnotations, LoadPatchImage
from .prompt_transforms import GenerateMaskPrompts, LoadCamPrompts, PackSamInputs

__all__ = [
    'LoadPatchImage', 'LoadPatchAnnotations', 'PackPatchInputs', 'RandomRotate90',
    'GenerateMaskPrompts', 'LoadCamPrompts', 'PackSamInputs'
]

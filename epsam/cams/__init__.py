"""Class activation maps: CAM methods, test-time augmentation and initial-mask makers."""
from epsam.models.classifiers.cam_postprocess import minmax_normalize, postprocess_cam

from .cam import CAM
from .grad_cam import GradCAM, GradCAMPlusPlus
from .mask_makers import (BinaryMaskMaker, FixedThresholdMaskMaker, OtsuMaskMaker,
                          PercentileMaskMaker, otsu_threshold)
from .multiclass_mask import MultiClassMaskMaker
from .tta import TTACAM

__all__ = [
    'CAM', 'GradCAM', 'GradCAMPlusPlus', 'TTACAM', 'BinaryMaskMaker', 'PercentileMaskMaker',
    'FixedThresholdMaskMaker', 'OtsuMaskMaker', 'MultiClassMaskMaker', 'otsu_threshold',
    'minmax_normalize', 'postprocess_cam'
]

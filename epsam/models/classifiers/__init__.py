"""Patch classifier and its data preprocessor (its metric: epsam.evaluation)."""
from .cam_classifier import CAMClassifier
from .data_preprocessor import IMAGENET_MEAN, IMAGENET_STD, CAMDataPreprocessor

__all__ = [
    'CAMClassifier', 'CAMDataPreprocessor', 'IMAGENET_MEAN', 'IMAGENET_STD'
]

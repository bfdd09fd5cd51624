"""Classifier backbones: ResNet with Attention-based Dropout Layers."""
from .resnet_adl import EPSAM_ADL_POSITIONS, ResNetADL

__all__ = ['EPSAM_ADL_POSITIONS', 'ResNetADL']

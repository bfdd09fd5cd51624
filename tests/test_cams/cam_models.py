"""A tiny CAMClassifier for CAM-method tests."""
import torch

import epsam  # noqa: F401
from epsam.registry import MODELS


def tiny_classifier(num_classes: int = 2, seed: int = 0):
    """ResNet-18-ADL at width 8 with random weights, in eval mode."""
    torch.manual_seed(seed)
    model = MODELS.build(dict(
        type='CAMClassifier',
        data_preprocessor=dict(type='CAMDataPreprocessor'),
        backbone=dict(type='ResNetADL', depth=18, in_channels=3, stem_channels=8,
                      base_channels=8, adl_positions=((4, 0), )),
        head=dict(type='CAMHead', in_channels=64, num_classes=num_classes),
        cam_layer='layer4.0'))
    # Non-zero residual branches so that every block changes the features.
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            torch.nn.init.uniform_(module.weight, 0.5, 1.5)
            torch.nn.init.uniform_(module.bias, -0.1, 0.1)
    return model.eval()

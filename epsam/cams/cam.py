"""Plain CAM (Zhou et al. 2016): the classifier's fc weights applied to a layer's features."""
from typing import Optional

import torch
from torch import Tensor, nn

from epsam.registry import CAM_METHODS


def check_model_inputs(model: nn.Module, inputs: Tensor, method: str) -> None:
    """Raise a clear error when ``model``/``inputs`` do not fit the CAM contract."""
    for attribute in ('extract_feat_and_layer', 'head'):
        if not hasattr(model, attribute):
            raise TypeError(f'{method}: the model must be a CAMClassifier-like model with '
                            f'`{attribute}`, got {type(model).__name__}')
    if not isinstance(inputs, Tensor) or inputs.dim() != 4 or not inputs.is_floating_point():
        raise ValueError(f'{method}: inputs must be the preprocessed float batch (B, C, H, W) '
                         '(run model.data_preprocessor first)')


@CAM_METHODS.register_module()
class CAM:
    """Plain class activation maps, EP-SAM's choice.

    For every class k: ``ReLU(sum_c w_kc * A_c)``, resized to the input size
    and min-max scaled per map, where ``w`` is the head's fc weight and ``A``
    the chosen layer's features (its channel count must equal the fc's input
    size). Runs without gradients. Call ``model.eval()`` first (ADL and
    BatchNorm behave differently in train mode).

    Args:
        layer: backbone module name (e.g. ``'layer4.0'``); None uses the
            model's ``cam_layer``.
    """

    def __init__(self, layer: Optional[str] = None) -> None:
        self.layer = layer

    def __call__(self, model: nn.Module, inputs: Tensor) -> Tensor:
        """CAMs of a preprocessed batch.

        Args:
            model: a :class:`~epsam.models.classifiers.CAMClassifier`.
            inputs: (B, C, H, W) output of the model's data preprocessor.

        Returns:
            Tensor: (B, K, H, W) maps in [0, 1].
        """
        check_model_inputs(model, inputs, type(self).__name__)
        with torch.no_grad():
            return model.compute_cam(inputs, self.layer)[1]

    def __repr__(self) -> str:
        return f'{type(self).__name__}(layer={self.layer!r})'

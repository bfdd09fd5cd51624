"""Gradient-weighted CAMs: Grad-CAM and Grad-CAM++ (baselines)."""
from typing import Optional

import torch
from torch import Tensor, nn

from epsam.models.classifiers.cam_postprocess import postprocess_cam
from epsam.registry import CAM_METHODS

from .cam import CAM, check_model_inputs


@CAM_METHODS.register_module()
class GradCAM(CAM):
    """Grad-CAM (Selvaraju et al. 2017).

    The chosen layer's activations ``A`` (B, C, h, w) are weighted by the
    spatial mean of the gradient of each class logit with respect to them,
    summed over channels, ReLU'd, resized to the input size and min-max
    scaled. Gradients are enabled locally, so it works under
    ``torch.no_grad()`` and with frozen parameters; the model's train/eval
    mode is left as it is (call ``model.eval()`` first).

    Args:
        layer: backbone module name (e.g. ``'layer4.0'``); None uses the
            model's ``cam_layer`` (or the final features).
    """

    def channel_weights(self, activations: Tensor, grads: Tensor) -> Tensor:
        """(B, C) weights from activations and gradients (both (B, C, h, w))."""
        return grads.mean(dim=(2, 3))

    def __call__(self, model: nn.Module, inputs: Tensor) -> Tensor:
        """Maps (B, K, H, W) in [0, 1] of a preprocessed batch (B, C, H, W)."""
        check_model_inputs(model, inputs, type(self).__name__)
        with torch.enable_grad():
            # A leaf input that needs grad keeps every activation in the graph.
            inputs = inputs.detach().requires_grad_(True)
            feats, activations = model.extract_feat_and_layer(inputs, self.layer)
            logits = model.head(feats)
            raw_maps = []
            for class_index in range(logits.shape[1]):
                # Samples are independent in eval mode, so one backward serves the batch.
                grads, = torch.autograd.grad(
                    logits[:, class_index].sum(), activations,
                    retain_graph=class_index + 1 < logits.shape[1])
                weights = self.channel_weights(activations.detach(), grads)
                raw_maps.append(torch.einsum('bc,bchw->bhw', weights, activations.detach()))
        return postprocess_cam(torch.stack(raw_maps, dim=1), inputs.shape[-2:]).detach()


@CAM_METHODS.register_module()
class GradCAMPlusPlus(GradCAM):
    """Grad-CAM++ (Chattopadhay et al. 2018).

    Channel weight ``w_c = sum_ij alpha_cij * ReLU(g_cij)`` with
    ``alpha = g^2 / (2 g^2 + sum_ij(A_c) * g^3)`` (0 where the gradient is 0),
    using the first-order closed form on the class logit.
    """

    def __init__(self, layer: Optional[str] = None, eps: float = 1e-7) -> None:
        super().__init__(layer)
        self.eps = eps

    def channel_weights(self, activations: Tensor, grads: Tensor) -> Tensor:
        grads_2 = grads.pow(2)
        grads_3 = grads.pow(3)
        activation_sums = activations.sum(dim=(2, 3), keepdim=True)
        denominator = 2 * grads_2 + activation_sums * grads_3
        alpha = grads_2 / torch.where(denominator != 0, denominator,
                                      torch.full_like(denominator, self.eps))
        alpha = torch.where(grads != 0, alpha, torch.zeros_like(alpha))
        return (alpha * torch.relu(grads)).sum(dim=(2, 3))

"""Attention-based Dropout Layer (ADL; Choe & Shim, CVPR 2019)."""
import torch
from torch import Tensor, nn

from epsam.registry import MODELS


@MODELS.register_module()
class ADL(nn.Module):
    """Attention-based Dropout Layer.

    The self-attention map is the channel mean of the feature map. At train
    time, once per forward pass (one draw from torch's global RNG for the
    whole batch), the layer either

    - with probability ``drop_rate`` multiplies the feature by the *drop
      mask*: 0 where the attention exceeds ``gamma`` times the per-sample
      maximum attention, 1 elsewhere (hides the most discriminative part), or
    - otherwise multiplies it by the *importance map* ``sigmoid(attention)``.

    At eval time it is the identity. It has no parameters.

    Args:
        drop_rate: probability of applying the drop mask in a training
            forward, in [0, 1]. EP-SAM uses 0.75.
        gamma: drop threshold as a fraction of the per-sample maximum
            attention, in [0, 1]. EP-SAM uses 0.8 (original ADL: 0.9).
    """

    def __init__(self, drop_rate: float = 0.75, gamma: float = 0.8) -> None:
        super().__init__()
        if not 0.0 <= drop_rate <= 1.0:
            raise ValueError(f'ADL: drop_rate must be in [0, 1], got {drop_rate}')
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f'ADL: gamma must be in [0, 1], got {gamma}')
        self.drop_rate = float(drop_rate)
        self.gamma = float(gamma)

    @staticmethod
    def attention(x: Tensor) -> Tensor:
        """Channel-mean self-attention, (B, C, H, W) -> (B, 1, H, W)."""
        return x.mean(dim=1, keepdim=True)

    def drop_mask(self, x: Tensor) -> Tensor:
        """Drop mask (B, 1, H, W): 0 where attention > gamma * max, else 1."""
        attention = self.attention(x)
        max_attention = attention.amax(dim=(2, 3), keepdim=True)
        return (attention <= self.gamma * max_attention).to(x.dtype)

    def importance_map(self, x: Tensor) -> Tensor:
        """Importance map (B, 1, H, W): sigmoid of the attention."""
        return torch.sigmoid(self.attention(x))

    def forward(self, x: Tensor) -> Tensor:
        """Apply ADL to a feature map of shape (B, C, H, W)."""
        if not self.training:
            return x
        if x.dim() != 4:
            raise ValueError(f'ADL expects a (B, C, H, W) feature map, got shape {tuple(x.shape)}')
        # One CPU draw per forward, so the choice does not depend on the device.
        use_drop_mask = bool(torch.rand(()) < self.drop_rate)
        selected = self.drop_mask(x) if use_drop_mask else self.importance_map(x)
        return x * selected

    def extra_repr(self) -> str:
        return f'drop_rate={self.drop_rate}, gamma={self.gamma}'

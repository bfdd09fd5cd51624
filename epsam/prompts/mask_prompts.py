"""Dense prompt: the CAM itself, as logits for SAM's ``mask_input``."""
from typing import Optional

import numpy as np

from epsam.registry import PROMPT_GENERATORS

from .base import BasePromptGenerator
from .structures import Prompts

MODES = ('linear', 'logit')


@PROMPT_GENERATORS.register_module()
class DenseMaskPrompt(BasePromptGenerator):
    """Turn the CAM into mask logits (``sigmoid(logit) > 0.5`` where CAM > centre).

    - ``mode='linear'``: ``logit = scale * (cam - centre)``; with the defaults
      the logits span [-10, 10], the range of SAM's own low-res logits.
    - ``mode='logit'``: ``logit = scale * (log(c / (1 - c)) - log(centre / (1 -
      centre)))`` with ``c`` the CAM clipped to ``[eps, 1 - eps]``; use
      ``scale=1`` for the plain logit.

    The output is at the CAM's resolution, ``(1, H, W)``;
    :meth:`Prompts.to_sam_frame` resizes it to SAM's ``img_size // 4`` frame.
    Needs no mask; ``rng`` is ignored.

    Args:
        mode: ``'linear'`` or ``'logit'``.
        scale: logit units per unit of CAM (linear) or multiplier (logit).
        centre: CAM value that maps to logit 0, in (0, 1).
        eps: clipping margin of the logit mode, in (0, 0.5).
    """

    requires_mask = False

    def __init__(self, mode: str = 'linear', scale: float = 20.0, centre: float = 0.5,
                 eps: float = 1e-3) -> None:
        if mode not in MODES:
            raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
        if not float(scale) > 0:
            raise ValueError(f'scale must be > 0, got {scale!r}')
        if not 0.0 < float(centre) < 1.0:
            raise ValueError(f'centre must be in (0, 1), got {centre!r}')
        if not 0.0 < float(eps) < 0.5:
            raise ValueError(f'eps must be in (0, 0.5), got {eps!r}')
        self.mode = mode
        self.scale = float(scale)
        self.centre = float(centre)
        self.eps = float(eps)

    def generate(self, cam: np.ndarray, mask: Optional[np.ndarray],
                 rng: Optional[np.random.Generator]) -> Prompts:
        if self.mode == 'linear':
            logits = self.scale * (cam - self.centre)
        else:
            clipped = np.clip(cam, self.eps, 1.0 - self.eps)
            logits = self.scale * (_logit(clipped) - _logit(self.centre))
        return Prompts(image_size=cam.shape, mask_input=logits[None].astype(np.float32))


def _logit(p: np.ndarray) -> np.ndarray:
    """log(p / (1 - p))."""
    return np.log(p) - np.log1p(-p)

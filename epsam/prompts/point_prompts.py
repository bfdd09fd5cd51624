"""Point prompts sampled from a CAM mask (positive) or its background (negative)."""
from typing import Optional

import numpy as np

from epsam.registry import PROMPT_GENERATORS

from .base import BasePromptGenerator, check_positive_int, flat_to_points
from .structures import NEGATIVE, POSITIVE, Prompts


@PROMPT_GENERATORS.register_module()
class ProbabilisticPointPrompt(BasePromptGenerator):
    """EP-SAM's prompts: positive points drawn inside the mask, weighted by the CAM.

    ``num_points`` distinct pixels are drawn without replacement from the
    mask pixels, each draw with probability proportional to the min-max
    normalised CAM (normalised over the whole image) among the pixels not yet
    drawn. Points are pixel-index ``(x, y)`` coordinates of pixel centres.

    Edge cases, none of them errors:

    - a mask with fewer than ``num_points`` pixels gives all of its pixels;
    - mask pixels whose normalised CAM is 0 are drawn only once every pixel
      with a positive weight has been taken (then uniformly);
    - a constant CAM gives uniform weights;
    - an empty mask gives empty prompts (the caller counts such images).

    Args:
        num_points: points per image (EP-SAM: 50).
    """

    requires_rng = True

    def __init__(self, num_points: int = 50) -> None:
        self.num_points = check_positive_int(num_points, 'num_points')

    def generate(self, cam: np.ndarray, mask: np.ndarray,
                 rng: np.random.Generator) -> Prompts:
        low, high = cam.min(), cam.max()
        weights = (cam - low) / (high - low) if high > low else np.ones_like(cam)
        candidates = np.flatnonzero(mask)
        chosen = sample_pixels(rng, candidates, self.num_points,
                               weights=weights.ravel()[candidates])
        return _point_prompts(chosen, cam.shape, POSITIVE)


@PROMPT_GENERATORS.register_module()
class UniformPointPrompt(BasePromptGenerator):
    """Positive points drawn uniformly, without replacement, inside the mask.

    EP-SAM uses these (50 points) to prompt SAM while fine-tuning its decoder
    on the CAM masks. A mask with fewer pixels than ``num_points`` gives all of
    its pixels; an empty mask gives empty prompts.

    Args:
        num_points: points per image.
    """

    requires_rng = True

    def __init__(self, num_points: int = 50) -> None:
        self.num_points = check_positive_int(num_points, 'num_points')

    def generate(self, cam: np.ndarray, mask: np.ndarray,
                 rng: np.random.Generator) -> Prompts:
        chosen = sample_pixels(rng, np.flatnonzero(mask), self.num_points)
        return _point_prompts(chosen, cam.shape, POSITIVE)


@PROMPT_GENERATORS.register_module()
class NegativePointPrompt(BasePromptGenerator):
    """Negative points drawn uniformly from confident background.

    Confident background is every pixel outside the mask whose CAM value is
    below ``cam_threshold``. Fewer such pixels than ``num_points`` gives all of
    them; none gives empty prompts. Combine with a positive generator through
    :class:`CombinedPrompt`.

    Args:
        num_points: negative points per image.
        cam_threshold: CAM value (in [0, 1]) below which a pixel is background.
    """

    requires_rng = True

    def __init__(self, num_points: int = 10, cam_threshold: float = 0.1) -> None:
        self.num_points = check_positive_int(num_points, 'num_points')
        if not 0.0 < float(cam_threshold) <= 1.0:
            raise ValueError(f'cam_threshold must be in (0, 1], got {cam_threshold!r}')
        self.cam_threshold = float(cam_threshold)

    def generate(self, cam: np.ndarray, mask: np.ndarray,
                 rng: np.random.Generator) -> Prompts:
        background = ~mask & (cam < self.cam_threshold)
        chosen = sample_pixels(rng, np.flatnonzero(background), self.num_points)
        return _point_prompts(chosen, cam.shape, NEGATIVE)


def sample_pixels(rng: np.random.Generator, candidates: np.ndarray, num: int,
                  weights: Optional[np.ndarray] = None) -> np.ndarray:
    """Draw ``min(num, len(candidates))`` distinct entries of ``candidates``.

    Args:
        rng: the random generator to draw from.
        candidates: ``(K,)`` flat pixel indices to choose from.
        num: how many to draw.
        weights: ``(K,)`` non-negative draw weights, or ``None`` for uniform.
            Entries of weight 0 are drawn (uniformly) only after every entry of
            positive weight has been taken.

    Returns:
        ``(min(num, K),)`` array of chosen flat indices, in draw order.
    """
    num = min(num, len(candidates))
    if num == 0:
        return candidates[:0]
    if weights is None:
        return rng.choice(candidates, size=num, replace=False)
    positive = weights > 0
    num_positive = int(positive.sum())
    if num_positive >= num:
        probs = weights[positive] / weights[positive].sum()
        return rng.choice(candidates[positive], size=num, replace=False, p=probs)
    rest = rng.choice(candidates[~positive], size=num - num_positive, replace=False)
    return np.concatenate([candidates[positive], rest])


def _point_prompts(flat_indices: np.ndarray, shape: tuple, label: int) -> Prompts:
    """Prompts holding the pixels ``flat_indices`` of ``shape``, all with ``label``."""
    return Prompts(image_size=shape,
                   point_coords=flat_to_points(flat_indices, shape[1]),
                   point_labels=np.full(len(flat_indices), label, dtype=np.int64))

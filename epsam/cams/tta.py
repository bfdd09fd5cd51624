"""Test-time augmentation for CAM methods: rotations and flips, undone and averaged."""
from typing import Callable, List, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from epsam.models.classifiers.cam_postprocess import minmax_normalize
from epsam.registry import CAM_METHODS, build_if_config

CAMFunction = Callable[[nn.Module, Tensor], Tensor]


@CAM_METHODS.register_module()
class TTACAM:
    """Average a CAM method over rotations and horizontal flips.

    For each rotation ``r`` (degrees, counter-clockwise, multiples of 90) and
    each flip ``f``: the input is rotated then flipped, the CAM computed, and
    the CAM flipped back then rotated back; the maps are averaged. With the
    defaults (4 rotations x {no flip, flip}) the set of transforms is a group
    (D4), so ``TTA(rotate(x)) == rotate(TTA(x))`` exactly. EP-SAM uses the
    4 rotations without flips.

    Args:
        cam_method: the wrapped method, a config dict (built from
            ``CAM_METHODS``) or a callable ``(model, inputs) -> (B, K, H, W)``.
        rotations: angles in degrees, each a multiple of 90.
        hflip: also use horizontally flipped copies.
        renormalize: min-max scale each averaged map to [0, 1] again.
    """

    def __init__(self,
                 cam_method: Union[dict, CAMFunction] = dict(type='CAM'),
                 rotations: Sequence[int] = (0, 90, 180, 270),
                 hflip: bool = True,
                 renormalize: bool = True) -> None:
        self.cam_method = build_if_config(CAM_METHODS, cam_method)
        if not callable(self.cam_method):
            raise TypeError('TTACAM: cam_method must be a config or a callable, '
                            f'got {cam_method!r}')
        if not rotations:
            raise ValueError('TTACAM: rotations must not be empty (use (0,) for none)')
        for angle in rotations:
            if angle % 90 != 0:
                raise ValueError(f'TTACAM: rotations must be multiples of 90 degrees, got {angle}')
        self.rotations = tuple(int(angle) for angle in rotations)
        self.hflip = hflip
        self.renormalize = renormalize

    @property
    def transforms(self) -> List[Tuple[int, bool]]:
        """(quarter turns, flip) pairs, one per augmented copy."""
        flips = (False, True) if self.hflip else (False, )
        return [((angle // 90) % 4, flip) for angle in self.rotations for flip in flips]

    @staticmethod
    def apply(images: Tensor, quarter_turns: int, flip: bool) -> Tensor:
        """Rotate ``quarter_turns`` x 90 degrees, then flip the width axis."""
        images = torch.rot90(images, quarter_turns, dims=(-2, -1))
        return images.flip(-1) if flip else images

    @staticmethod
    def undo(maps: Tensor, quarter_turns: int, flip: bool) -> Tensor:
        """Inverse of :meth:`apply`."""
        maps = maps.flip(-1) if flip else maps
        return torch.rot90(maps, -quarter_turns, dims=(-2, -1))

    def __call__(self, model: nn.Module, inputs: Tensor) -> Tensor:
        """Averaged maps (B, K, H, W) in [0, 1] of a preprocessed batch (B, C, H, W)."""
        if not isinstance(inputs, Tensor) or inputs.dim() != 4:
            raise ValueError('TTACAM: inputs must be a (B, C, H, W) tensor')
        total = None
        for quarter_turns, flip in self.transforms:
            maps = self.cam_method(model, self.apply(inputs, quarter_turns, flip))
            maps = self.undo(maps, quarter_turns, flip)
            total = maps if total is None else total + maps
        mean = total / len(self.transforms)
        return minmax_normalize(mean) if self.renormalize else mean

    def __repr__(self) -> str:
        return (f'TTACAM(cam_method={self.cam_method!r}, rotations={self.rotations}, '
                f'hflip={self.hflip}, renormalize={self.renormalize})')

"""Flips and 90-degree turns recorded by a data pipeline, on images and embedding grids.

A square patch has 8 lossless orientations (the dihedral group of the
square). The SAM tuning pipeline draws one with mmcv's ``RandomFlip``
(metainfo ``flip``, ``flip_direction``) and epsam's ``RandomRotate90``
(``rotate90_k``, and ``rotate90_after_flip``: whether a flip transform ran
before it). :class:`DihedralTransform` reads that record and applies it, or
its inverse, to the last two dimensions of any tensor: an image (C, H, W) or
SAM's embedding grid (C, g, g). Both are pixel permutations, so undoing an
augmentation returns the original image bit for bit.
"""
from typing import Mapping, NamedTuple, Optional, Tuple

import torch

__all__ = ['DihedralTransform', 'FLIP_DIMS']

#: mmcv ``flip_direction`` -> tensor dimensions it reverses (of (..., H, W)).
FLIP_DIMS = {'horizontal': (-1, ), 'vertical': (-2, ), 'diagonal': (-2, -1)}
_SPATIAL = (-2, -1)


class DihedralTransform(NamedTuple):
    """A flip (or none) and a counter-clockwise turn by ``rotate90_k`` x 90 degrees.

    Args:
        flip_direction: ``None`` (no flip) or an mmcv direction
            (``'horizontal'``, ``'vertical'``, ``'diagonal'``).
        rotate90_k: Quarter turns, counter-clockwise as ``np.rot90``.
        flip_first: Whether the flip came before the turn (``RandomFlip``
            then ``RandomRotate90``, the order of epsam's configs).
    """

    flip_direction: Optional[str] = None
    rotate90_k: int = 0
    flip_first: bool = True

    @classmethod
    def from_metainfo(cls, metainfo: Mapping) -> 'DihedralTransform':
        """The transform a data sample's metainfo records (identity if none).

        Raises:
            ValueError: an unknown ``flip_direction``.
        """
        direction = metainfo.get('flip_direction') if metainfo.get('flip') else None
        if direction is not None and direction not in FLIP_DIMS:
            raise ValueError(f'unknown flip_direction {direction!r} in the metainfo; '
                             f'expected one of {sorted(FLIP_DIMS)}')
        return cls(direction, int(metainfo.get('rotate90_k', 0) or 0) % 4,
                   bool(metainfo.get('rotate90_after_flip', True)))

    @property
    def is_identity(self) -> bool:
        """Whether the transform leaves every tensor unchanged."""
        return self.flip_direction is None and self.rotate90_k % 4 == 0

    def _flip(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.flip_direction is None:
            return tensor
        return torch.flip(tensor, FLIP_DIMS[self.flip_direction])

    def _steps(self, inverse: bool) -> Tuple:
        quarter_turns = -self.rotate90_k if inverse else self.rotate90_k

        def turn(tensor: torch.Tensor) -> torch.Tensor:
            return torch.rot90(tensor, quarter_turns, _SPATIAL)

        steps = (self._flip, turn) if self.flip_first else (turn, self._flip)
        return steps[::-1] if inverse else steps

    def apply(self, tensor: torch.Tensor) -> torch.Tensor:
        """Transform the last two dimensions of ``tensor`` as the pipeline did the image."""
        for step in self._steps(inverse=False):
            tensor = step(tensor)
        return tensor.contiguous()

    def invert(self, tensor: torch.Tensor) -> torch.Tensor:
        """Undo :meth:`apply`: an augmented image back to its original orientation."""
        for step in self._steps(inverse=True):
            tensor = step(tensor)
        return tensor.contiguous()

"""Lossless geometric augmentation for square patches."""
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from epsam.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomRotate90(BaseTransform):
    """Rotate the image and every map in ``seg_fields`` by a multiple of 90 degrees.

    No interpolation, so mask values stay exact. With probability ``prob`` the
    sample turns by k x 90 degrees counter-clockwise, k drawn uniformly from
    {1, 2, 3}; ``prob=0.75`` makes all four orientations equally likely.

    Required keys: ``img``. Modified keys: ``img``, ``img_shape`` and the maps
    named in ``seg_fields``. Added keys: ``rotate90_k`` (0-3) and
    ``rotate90_after_flip`` (whether a flip transform, which sets ``flip``,
    ran before: the order the two were applied in, so that the sample's
    orientation can be undone; see
    :class:`~epsam.models.sam.tuning.dihedral.DihedralTransform`).

    Args:
        prob: Probability of turning at all.
    """

    def __init__(self, prob: float = 0.75) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        self.prob = prob

    @cache_randomness
    def _random_k(self) -> int:
        if np.random.rand() >= self.prob:
            return 0
        return int(np.random.randint(1, 4))

    def transform(self, results: dict) -> dict:
        """Turn ``results['img']`` and its maps by the same random multiple of 90 degrees."""
        k = self._random_k()
        if k:
            results['img'] = np.ascontiguousarray(np.rot90(results['img'], k))
            for key in results.get('seg_fields', []):
                results[key] = np.ascontiguousarray(np.rot90(results[key], k))
            results['img_shape'] = results['img'].shape[:2]
        results['rotate90_k'] = k
        results['rotate90_after_flip'] = 'flip' in results
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(prob={self.prob})'

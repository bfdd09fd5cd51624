"""Class maps from multi-class CAMs: background score, white-glass prior, ignore label."""
from typing import Optional

import numpy as np

from epsam.registry import MASK_MAKERS

from .mask_makers import ArrayLike, to_numpy_maps


@MASK_MAKERS.register_module()
class MultiClassMaskMaker:
    """Turn K tissue-class CAMs into a (H, W) class map.

    Per pixel: CAMs of classes absent from the image label are set to 0;
    the background score is ``(1 - max_k CAM_k) ** background_alpha``; the
    pixel takes the class (or background) with the highest score; pixels
    whose best score is below ``confidence_threshold`` get ``ignore_index``;
    finally, when ``white_threshold`` is set and an image is given, pixels
    brighter than it in every channel (glass) become background.

    Args:
        background_alpha: exponent of the background score (> 0); larger
            values shrink the background.
        confidence_threshold: best-score threshold in [0, 1] below which a
            pixel is ignored (0: never).
        white_threshold: 0-255 intensity; None disables the white prior.
        background_index: class-map value of background; None -> K (the
            number of tissue classes, as in BCSS-WSSS / LUAD-HistoSeg).
        ignore_index: class-map value of unconfident pixels.
    """

    def __init__(self,
                 background_alpha: float = 1.0,
                 confidence_threshold: float = 0.5,
                 white_threshold: Optional[int] = 230,
                 background_index: Optional[int] = None,
                 ignore_index: int = 255) -> None:
        if background_alpha <= 0:
            raise ValueError(f'MultiClassMaskMaker: background_alpha must be > 0, '
                             f'got {background_alpha}')
        if not 0.0 <= confidence_threshold <= 1.0:
            raise ValueError(f'MultiClassMaskMaker: confidence_threshold must be in [0, 1], '
                             f'got {confidence_threshold}')
        if white_threshold is not None and not 0 <= white_threshold <= 255:
            raise ValueError(f'MultiClassMaskMaker: white_threshold must be in [0, 255], '
                             f'got {white_threshold}')
        if not 0 <= ignore_index <= 255:
            raise ValueError(f'MultiClassMaskMaker: ignore_index must fit in uint8, '
                             f'got {ignore_index}')
        self.background_alpha = float(background_alpha)
        self.confidence_threshold = float(confidence_threshold)
        self.white_threshold = white_threshold
        self.background_index = background_index
        self.ignore_index = ignore_index

    def __call__(self,
                 cams: ArrayLike,
                 labels: Optional[ArrayLike] = None,
                 image: Optional[np.ndarray] = None) -> np.ndarray:
        """Class map of one image.

        Args:
            cams: (K, H, W) CAMs in [0, 1].
            labels: optional (K,) multi-hot image label.
            image: optional (H, W, 3) uint8 image (any channel order) for
                the white prior.

        Returns:
            np.ndarray: (H, W) uint8 map: class k in [0, K), the background
            index, or ``ignore_index``.
        """
        maps = to_numpy_maps(cams, 'MultiClassMaskMaker')
        if maps.ndim != 3:
            raise ValueError(f'MultiClassMaskMaker: cams must be (K, H, W), got {maps.shape}')
        num_classes = maps.shape[0]
        background_index = num_classes if self.background_index is None \
            else self.background_index
        if background_index == self.ignore_index or 0 <= background_index < num_classes:
            raise ValueError(f'MultiClassMaskMaker: background_index {background_index} collides '
                             f'with a class index (0..{num_classes - 1}) or ignore_index')
        maps = np.clip(maps, 0.0, 1.0)
        if labels is not None:
            present = np.asarray(labels, dtype=np.float32).reshape(-1)
            if present.size != num_classes:
                raise ValueError(f'MultiClassMaskMaker: labels have {present.size} entries, '
                                 f'cams {num_classes} classes')
            maps = maps * (present > 0.5)[:, None, None]
        background = (1.0 - maps.max(axis=0)) ** self.background_alpha
        scores = np.concatenate([maps, background[None]], axis=0)
        winner = scores.argmax(axis=0)
        class_map = np.where(winner == num_classes, background_index, winner).astype(np.uint8)
        class_map[scores.max(axis=0) < self.confidence_threshold] = self.ignore_index
        if self.white_threshold is not None and image is not None:
            image = np.asarray(image)
            if image.ndim != 3 or image.shape[:2] != maps.shape[1:]:
                raise ValueError(f'MultiClassMaskMaker: image must be (H, W, C) with (H, W) = '
                                 f'{maps.shape[1:]}, got {image.shape}')
            class_map[(image > self.white_threshold).all(axis=-1)] = background_index
        return class_map

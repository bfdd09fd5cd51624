import numpy as np
import pytest

import epsam  # noqa: F401
from epsam.registry import MASK_MAKERS


def _cams():
    # 3 classes over a 1x4 strip.
    return np.array([
        [[0.9, 0.1, 0.0, 0.4]],
        [[0.2, 0.8, 0.0, 0.3]],
        [[0.1, 0.1, 0.0, 0.35]],
    ], np.float32)


def test_argmax_with_background_and_ignore():
    maker = MASK_MAKERS.build(dict(type='MultiClassMaskMaker', background_alpha=2.0,
                                   confidence_threshold=0.5, white_threshold=None))
    class_map = maker(_cams())
    # px0: class 0 (0.9 vs bg 0.01); px1: class 1; px2: bg = 1; px3: best 0.4 vs bg 0.36 -> ignore
    assert class_map.dtype == np.uint8
    assert class_map.tolist() == [[0, 1, 3, 255]]


def test_labels_and_background_index():
    maker = MASK_MAKERS.build(dict(type='MultiClassMaskMaker', background_alpha=1.0,
                                   confidence_threshold=0.0, white_threshold=None,
                                   background_index=7))
    # Class 0 absent: px0 goes to class 1 (0.2) against background 0.8 -> background.
    class_map = maker(_cams(), labels=[0, 1, 1])
    assert class_map.tolist() == [[7, 1, 7, 7]]


def test_white_prior():
    maker = MASK_MAKERS.build(dict(type='MultiClassMaskMaker', white_threshold=220,
                                   confidence_threshold=0.0))
    image = np.full((1, 4, 3), 120, np.uint8)
    image[0, 0] = 250          # glass: background although class 0 is confident
    image[0, 1] = (250, 250, 200)  # not bright in every channel: kept
    # px3: max CAM 0.4 < background 0.6.
    assert maker(_cams(), image=image).tolist() == [[3, 1, 3, 3]]
    assert maker(_cams()).tolist() == [[0, 1, 3, 3]]  # no image: no prior


def test_errors():
    maker = MASK_MAKERS.build(dict(type='MultiClassMaskMaker'))
    with pytest.raises(ValueError, match=r'\(K, H, W\)'):
        maker(np.zeros((4, 4)))
    with pytest.raises(ValueError, match='labels have 2 entries'):
        maker(_cams(), labels=[1, 0])
    with pytest.raises(ValueError, match='image must be'):
        maker(_cams(), image=np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(ValueError, match='collides'):
        MASK_MAKERS.build(dict(type='MultiClassMaskMaker', background_index=1))(_cams())
    with pytest.raises(ValueError, match='background_alpha'):
        MASK_MAKERS.build(dict(type='MultiClassMaskMaker', background_alpha=0))

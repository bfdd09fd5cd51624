import numpy as np
import pytest

from epsam.prompts import PROMPT_PRESETS, prompt_preset
from epsam.registry import PROMPT_GENERATORS


def test_presets_build_points_boxes_and_both():
    cam = np.zeros((32, 32), np.float32)
    cam[4:12, 4:12] = 1.0
    cam[20:28, 18:30] = 0.8
    mask = cam > 0
    made = {name: PROMPT_GENERATORS.build(prompt_preset(name))(cam, mask,
                                                               np.random.default_rng(0))
            for name in PROMPT_PRESETS}
    assert made['points'].num_points == 50 and made['points'].num_boxes == 0
    assert made['boxes'].num_points == 0 and made['boxes'].num_boxes == 2
    assert made['both'].num_points == 50 and made['both'].num_boxes == 2
    preset = prompt_preset('boxes')
    preset['min_area'] = 1  # a copy: the preset itself is unchanged
    assert PROMPT_PRESETS['boxes']['min_area'] == 16
    with pytest.raises(KeyError, match="choose from"):
        prompt_preset('circles')

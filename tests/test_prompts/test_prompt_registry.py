"""Every registered prompt generator builds from a config and yields valid prompts."""
import numpy as np
import pytest

from epsam.prompts import BasePromptGenerator, Prompts
from epsam.registry import PROMPT_GENERATORS

PROMPT_GENERATORS.import_from_location()
NAMES = sorted(PROMPT_GENERATORS.module_dict)

#: Arguments a generator cannot be built without.
REQUIRED_ARGS = {
    'CombinedPrompt': dict(generators=[dict(type='UniformPointPrompt', num_points=4),
                                       dict(type='FullImageBoxPrompt')]),
}


def test_registry_is_populated():
    assert len(NAMES) >= 8
    for name in ('ProbabilisticPointPrompt', 'UniformPointPrompt', 'TopKPeakPrompt',
                 'ComponentBoxPrompt', 'FullImageBoxPrompt', 'NegativePointPrompt',
                 'DenseMaskPrompt', 'CombinedPrompt'):
        assert name in NAMES


@pytest.mark.parametrize('name', NAMES)
def test_build_and_run_from_config(name):
    generator = PROMPT_GENERATORS.build(dict(type=name, **REQUIRED_ARGS.get(name, {})))
    assert isinstance(generator, BasePromptGenerator)
    assert name in repr(generator)
    ys, xs = np.mgrid[:24, :40]
    cam = np.exp(-((xs - 20.0) ** 2 + (ys - 12.0) ** 2) / 50.0)
    mask = cam > 0.3
    prompts = generator(cam, mask, np.random.default_rng(0))
    assert isinstance(prompts, Prompts)
    assert prompts.image_size == (24, 40)
    # negative points alone count as empty: they do not mark the object
    assert prompts.is_empty == (name == 'NegativePointPrompt')
    assert prompts.num_points + prompts.num_boxes > 0 or prompts.mask_input is not None
    coords = np.concatenate([prompts.point_coords, prompts.boxes.reshape(-1, 2)])
    assert ((coords >= 0) & (coords <= [39, 23])).all()
    mapped = prompts.to_sam_frame(64)
    assert mapped.image_size == (64, 64)
    assert mapped.num_points == prompts.num_points and mapped.num_boxes == prompts.num_boxes

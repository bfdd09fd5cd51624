"""Merge the outputs of several prompt generators into one set of prompts."""
from typing import Optional, Sequence, Union

import numpy as np

from epsam.registry import PROMPT_GENERATORS

from .base import BasePromptGenerator
from .structures import Prompts, merge_prompts


@PROMPT_GENERATORS.register_module()
class CombinedPrompt(BasePromptGenerator):
    """Run several generators on the same CAM and concatenate their prompts.

    Points (in generator order) and boxes are concatenated; at most one
    generator may give a dense mask. The generators draw from the same ``rng``
    one after another, so one seed still gives one result.

    Example config::

        dict(type='CombinedPrompt', generators=[
            dict(type='ProbabilisticPointPrompt', num_points=50),
            dict(type='NegativePointPrompt', num_points=10, cam_threshold=0.1),
            dict(type='ComponentBoxPrompt', min_area=64)])

    Args:
        generators: configs (dicts with ``type``) or generator instances.
    """

    def __init__(self, generators: Sequence[Union[dict, BasePromptGenerator]]) -> None:
        if isinstance(generators, (dict, BasePromptGenerator)) or not generators:
            raise ValueError('CombinedPrompt.generators must be a non-empty list of '
                             f'generator configs or instances, got {generators!r}')
        built = []
        for index, item in enumerate(generators):
            if isinstance(item, dict):
                item = PROMPT_GENERATORS.build(item)
            if not isinstance(item, BasePromptGenerator):
                raise TypeError(f'CombinedPrompt.generators[{index}] is not a prompt '
                                f'generator: {item!r}')
            built.append(item)
        self.generators = built
        self.requires_mask = any(g.requires_mask for g in built)
        self.requires_rng = any(g.requires_rng for g in built)

    def generate(self, cam: np.ndarray, mask: Optional[np.ndarray],
                 rng: Optional[np.random.Generator]) -> Prompts:
        return merge_prompts([g.generate(cam, mask, rng) for g in self.generators])

"""CAM -> SAM prompt generators (EP-SAM step 3) and the prompt container.

Generators are registered in ``epsam.registry.PROMPT_GENERATORS`` and share
one call, ``generator(cam, mask, rng) -> Prompts``, in the CAM's pixel frame;
``Prompts.to_sam_frame(img_size)`` maps the result into SAM's input frame.
"""
from .base import BasePromptGenerator
from .box_prompts import ComponentBoxPrompt, FullImageBoxPrompt
from .combined import CombinedPrompt
from .mask_prompts import DenseMaskPrompt
from .peak_prompts import TopKPeakPrompt
from .point_prompts import (NegativePointPrompt, ProbabilisticPointPrompt, UniformPointPrompt,
                            sample_pixels)
from .presets import PROMPT_PRESETS, prompt_preset
from .sam_frame import map_boxes_to_sam, map_mask_input_to_sam, map_points_to_sam, sam_input_size
from .structures import NEGATIVE, POSITIVE, Prompts, merge_prompts

__all__ = [
    'BasePromptGenerator', 'CombinedPrompt', 'ComponentBoxPrompt', 'DenseMaskPrompt',
    'FullImageBoxPrompt', 'NEGATIVE', 'NegativePointPrompt', 'POSITIVE', 'PROMPT_PRESETS',
    'ProbabilisticPointPrompt', 'Prompts', 'TopKPeakPrompt', 'UniformPointPrompt',
    'map_boxes_to_sam', 'map_mask_input_to_sam', 'map_points_to_sam', 'merge_prompts',
    'prompt_preset', 'sam_input_size', 'sample_pixels'
]

"""The three prompt kinds a user picks between: EP-SAM's points, component boxes, both.

Configs of ``PROMPT_GENERATORS`` (plain dicts, so they can go into configs
and fingerprints as they are):

- ``'points'``: EP-SAM's 50 CAM-weighted points inside the CAM mask;
- ``'boxes'``: one box per connected component of the CAM mask (components
  under 16 px dropped), the prompt LiteMedSAM was trained with;
- ``'both'``: the boxes, each decoded with the points.
"""
import copy
from typing import Dict

__all__ = ['PROMPT_PRESETS', 'prompt_preset']

_POINTS = dict(type='ProbabilisticPointPrompt', num_points=50)
_BOXES = dict(type='ComponentBoxPrompt', min_area=16)
PROMPT_PRESETS: Dict[str, dict] = {
    'points': _POINTS,
    'boxes': _BOXES,
    'both': dict(type='CombinedPrompt', generators=[_BOXES, _POINTS]),
}


def prompt_preset(name: str) -> dict:
    """A copy of a preset's generator config.

    Raises:
        KeyError: Unknown name; the message lists the presets.
    """
    if name not in PROMPT_PRESETS:
        raise KeyError(f'unknown prompt preset {name!r}; choose from {sorted(PROMPT_PRESETS)}')
    return copy.deepcopy(PROMPT_PRESETS[name])

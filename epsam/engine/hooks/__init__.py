"""mmengine hooks."""
import mmseg.engine  # noqa: F401  (fills the parent registries)

from .reseed_hook import ReseedHook
from .weights_only_checkpoint_hook import WeightsOnlyCheckpointHook

__all__ = ['ReseedHook', 'WeightsOnlyCheckpointHook']

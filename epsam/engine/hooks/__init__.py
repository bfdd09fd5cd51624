"""mmengine hooks."""
import mmseg.engine  # noqa: F401  (fills the parent registries)

from ..atomic_backend import ATOMIC_BACKEND, AtomicLocalBackend  # noqa: F401 (registers it)
from .nan_guard_hook import NaNGuardHook, NonFiniteLossError, NonFiniteWeightsError
from .reseed_hook import ReseedHook
from .train_time_hook import TrainTimeHook, read_train_seconds
from .weights_only_checkpoint_hook import WeightsOnlyCheckpointHook

__all__ = [
    'NaNGuardHook', 'NonFiniteLossError', 'NonFiniteWeightsError', 'ReseedHook',
    'WeightsOnlyCheckpointHook', 'TrainTimeHook', 'read_train_seconds'
]

"""The iterative EP-SAM protocol as resumable stages (``tools/run_pipeline.py``)."""
from epsam.utils.work_dir_lock import WorkDirBusyError

from .config_check import PipelineConfigError, validate_pipeline_config
from .ledger import StageLedger
from .runner import EPSAMPipeline
from .stage_plan import StaleStageError, UnknownStageError

#: Errors that stop a run before any stage runs; tools print them as one ``error:`` message.
USER_ERRORS = (PipelineConfigError, StaleStageError, UnknownStageError, WorkDirBusyError)

__all__ = ['StageLedger', 'EPSAMPipeline', 'PipelineConfigError', 'StaleStageError',
           'UnknownStageError', 'WorkDirBusyError', 'USER_ERRORS', 'validate_pipeline_config']

"""The iterative EP-SAM protocol as resumable stages (``tools/run_pipeline.py``)."""
from .ledger import StageLedger
from .runner import EPSAMPipeline

__all__ = ['StageLedger', 'EPSAMPipeline']

"""Which pipeline stages have finished, recorded on disk so a rerun resumes."""
import json
import os.path as osp
from typing import Any, Dict, Optional

from epsam.utils.atomic_io import atomic_write_json

DONE_FILE = 'stage_done.json'


class StageLedger:
    """One folder per stage under ``work_dir``; ``stage_done.json`` marks it finished.

    A stage writes its outputs first and its marker last (atomically), so a
    stage killed half-way has no marker and is run again; its own items are
    resumable, so finished items are not recomputed.

    Args:
        work_dir: The pipeline's work directory.
    """

    def __init__(self, work_dir: str) -> None:
        self.work_dir = work_dir

    def stage_dir(self, stage: str) -> str:
        return osp.join(self.work_dir, stage)

    def is_done(self, stage: str) -> bool:
        return osp.isfile(osp.join(self.stage_dir(stage), DONE_FILE))

    def record(self, stage: str) -> Optional[Dict[str, Any]]:
        """The record a finished stage left, or ``None``."""
        path = osp.join(self.stage_dir(stage), DONE_FILE)
        if not osp.isfile(path):
            return None
        try:
            with open(path) as stream:
                return json.load(stream)
        except (OSError, ValueError) as err:
            raise RuntimeError(f'the stage record {path} cannot be read ({err}); delete it to '
                               f'run stage {stage!r} again') from err

    def mark_done(self, stage: str, record: Dict[str, Any]) -> None:
        atomic_write_json(osp.join(self.stage_dir(stage), DONE_FILE), record)

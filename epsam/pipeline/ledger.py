"""Which pipeline stages have finished, recorded on disk so a rerun resumes."""
import json
import os.path as osp
from typing import Any, Dict, Optional

from epsam.fileio.atomic_io import atomic_write_json

DONE_FILE = 'stage_done.json'
#: Written when a stage starts: the fingerprint its items are made from.
STARTED_FILE = 'stage_started.json'


class StageLedger:
    """One folder per stage under ``work_dir``; ``stage_done.json`` marks it finished.

    A stage writes its outputs first and its marker last (atomically), so a
    stage killed half-way has no marker and is run again; its own items are
    resumable, so finished items are not recomputed. Both the marker and
    ``stage_started.json`` (written when the stage starts) hold the stage's
    fingerprint (:mod:`.fingerprints`), so a rerun with other settings is refused
    instead of mixing old and new items.

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
        return self._read(stage, DONE_FILE)

    def started(self, stage: str) -> Optional[Dict[str, Any]]:
        """What a stage recorded when it started (``fingerprint``), or ``None``."""
        return self._read(stage, STARTED_FILE)

    def _read(self, stage: str, name: str) -> Optional[Dict[str, Any]]:
        path = osp.join(self.stage_dir(stage), name)
        if not osp.isfile(path):
            return None
        try:
            with open(path) as stream:
                return json.load(stream)
        except (OSError, ValueError) as err:
            raise RuntimeError(f'the stage record {path} cannot be read ({err}); delete it to '
                               f'run stage {stage!r} again') from err

    def mark_started(self, stage: str, record: Dict[str, Any]) -> None:
        """Write ``stage_started.json`` (e.g. ``{'fingerprint': ...}``) before the stage runs."""
        atomic_write_json(osp.join(self.stage_dir(stage), STARTED_FILE), record)

    def mark_done(self, stage: str, record: Dict[str, Any]) -> None:
        """Write ``stage_done.json``: the stage has finished."""
        atomic_write_json(osp.join(self.stage_dir(stage), DONE_FILE), record)

"""The pseudo-label folder: kept masks, per-item records, settings and summary.

Layout of ``out_dir`` (see docs/architecture.md, "Stage outputs on disk"):

- ``masks/{stem}.png``: kept pseudo-label, uint8 0/1 at the image's size;
  rejected items get no file;
- ``records/{stem}.json``: one record per item (status, score, decision,
  reason), written after the mask, so a record marks a finished item;
- ``settings.json``: what produced the folder; a rerun with other settings is
  refused instead of mixing two runs' outputs;
- ``records.jsonl`` (all records, sorted by stem) and ``summary.json``
  (counts): written once every item has a record.

Every file is written atomically; nothing holds a time stamp, so the same
inputs give byte-identical folders.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np

from epsam.fileio.cam_store import save_label_png
from epsam.fileio.item_folder import ItemFolder

__all__ = [
    'KEPT', 'REJECTED', 'EMPTY_PROMPTS', 'ERROR', 'STATUSES', 'PseudoLabelFolder'
]

KEPT = 'kept'
REJECTED = 'rejected'
EMPTY_PROMPTS = 'empty_prompts'
ERROR = 'error'
#: Every record status; ``error`` items are retried by a rerun.
STATUSES = (KEPT, REJECTED, EMPTY_PROMPTS, ERROR)
#: Summary count key of each status.
COUNT_KEYS = {KEPT: 'kept', REJECTED: 'rejected', EMPTY_PROMPTS: 'empty_prompts', ERROR: 'errors'}


class PseudoLabelFolder(ItemFolder):
    """Reads and writes one pseudo-label output folder.

    Args:
        out_dir: The folder (created on first write).
    """

    STATUSES = STATUSES

    def is_done(self, stem: str) -> bool:
        """True when the item has a final record (not an error) and its kept mask exists."""
        record = self.read_record(stem)
        if record is None or record['status'] == ERROR:
            return False
        return record['status'] != KEPT or osp.isfile(self.mask_path(stem))

    def write(self, record: Dict, mask: Optional[np.ndarray] = None) -> None:
        """Write a kept mask (when given) and then the item's record.

        A mask left by an earlier, interrupted run of an item that is not
        kept now is removed, so ``masks/`` always matches the records.

        Args:
            record: JSON-serialisable dict with at least ``stem`` and ``status``.
            mask: ``(H, W)`` bool or 0/1 mask, required when status is ``kept``.
        """
        stem, status = record['stem'], record['status']
        if status not in STATUSES:
            raise ValueError(f'record status must be one of {STATUSES}, got {status!r}')
        if status == KEPT:
            if mask is None:
                raise ValueError(f'{stem}: a kept record needs its mask')
            save_label_png(self.mask_path(stem), np.asarray(mask).astype(np.uint8))
        elif osp.isfile(self.mask_path(stem)):
            os.remove(self.mask_path(stem))
        self.write_record(record)

    def missing(self, stems: Sequence[str]) -> List[str]:
        """The stems that have no record yet (error records count as present)."""
        return [stem for stem in stems if self.read_record(stem) is None]

    # --- summary --------------------------------------------------------------
    def summarise(self, stems: Optional[Sequence[str]] = None,
                  extra: Optional[Dict] = None) -> Dict:
        """Aggregate the records into ``records.jsonl`` and ``summary.json``.

        Args:
            stems: The run's items; every one must have a record. ``None``
                takes every record in the folder.
            extra: More JSON entries for the summary (e.g. the settings).

        Returns:
            The summary: ``items`` and one count per status (``kept``,
            ``rejected``, ``empty_prompts``, ``errors``), the error messages
            and ``extra``.

        Raises:
            RuntimeError: some of ``stems`` have no record yet (another rank
                has not finished).
        """
        if stems is None:
            stems = self.recorded_stems()
        records = []
        for stem in sorted(set(stems)):
            record = self.read_record(stem)
            if record is None:
                raise RuntimeError(f'{self.record_path(stem)} is missing: item {stem!r} has '
                                   'not been processed yet (run every rank first)')
            records.append(record)
        counts = dict.fromkeys(COUNT_KEYS.values(), 0)
        for record in records:
            counts[COUNT_KEYS[record['status']]] += 1
        summary = dict(items=len(records), **counts,
                       error_items={r['stem']: r.get('message', '') for r in records
                                    if r['status'] == ERROR},
                       **(extra or {}))
        self.write_summary(records, summary)
        return summary

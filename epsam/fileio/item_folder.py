"""An output folder of per-item records: the shared part of the CAM and pseudo-label stages.

Layout: ``records/{stem}.json`` (one record per finished item, written after
the item's own files, so a record marks a finished item), ``settings.json``
(what produced the folder; a rerun with other settings is refused),
``records.jsonl`` and ``summary.json`` (written last). Every file is written
atomically and holds no time stamp, so the same inputs give identical bytes.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

from .atomic_io import atomic_write_bytes, atomic_write_json


class ItemFolder:
    """Records, settings and summary of one stage's output folder.

    Subclasses set ``STATUSES`` (the valid record statuses) and add the paths
    of their own per-item files.

    Args:
        out_dir: The folder (created on first write).
    """

    STATUSES: Tuple[str, ...] = ()

    def __init__(self, out_dir: str) -> None:
        self.out_dir = os.fspath(out_dir)

    def mask_path(self, stem: str) -> str:
        """``masks/{stem}.png``."""
        return osp.join(self.out_dir, 'masks', f'{stem}.png')

    def record_path(self, stem: str) -> str:
        """``records/{stem}.json``."""
        return osp.join(self.out_dir, 'records', f'{stem}.json')

    @property
    def summary_path(self) -> str:
        """``summary.json``."""
        return osp.join(self.out_dir, 'summary.json')

    def check_settings(self, settings: Dict) -> None:
        """Write ``settings.json``, or check that an existing one holds the same settings.

        Raises:
            ValueError: the folder was produced with other settings.
        """
        path = osp.join(self.out_dir, 'settings.json')
        settings = json.loads(json.dumps(settings, sort_keys=True))
        if osp.isfile(path):
            with open(path, encoding='utf-8') as stream:
                old = json.load(stream)
            if old != settings:
                changed = sorted(key for key in set(old) | set(settings)
                                 if old.get(key) != settings.get(key))
                raise ValueError(f'{path}: this folder was produced with other settings '
                                 f'(differing: {changed}); use a new output folder or delete '
                                 'this one')
            return
        atomic_write_json(path, settings)

    def read_record(self, stem: str) -> Optional[Dict]:
        """The item's record, or ``None`` when absent or unreadable (then it is redone)."""
        try:
            with open(self.record_path(stem), encoding='utf-8') as stream:
                record = json.load(stream)
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get('status') not in self.STATUSES:
            return None
        return record

    def write_record(self, record: Dict) -> None:
        """Write an item's record (after its files), checking its status."""
        if record['status'] not in self.STATUSES:
            raise ValueError(f'record status must be one of {self.STATUSES}, '
                             f'got {record["status"]!r}')
        atomic_write_json(self.record_path(record['stem']), record)

    def write_summary(self, records: List[Dict], summary: Dict) -> None:
        """``records.jsonl`` (records sorted by the caller) and then ``summary.json``."""
        lines = ''.join(json.dumps(r, sort_keys=True, ensure_ascii=False) + '\n' for r in records)
        atomic_write_bytes(osp.join(self.out_dir, 'records.jsonl'), lines.encode('utf-8'))
        atomic_write_json(self.summary_path, summary)

    def recorded_stems(self) -> List[str]:
        """Stems of every record file in the folder."""
        folder = osp.join(self.out_dir, 'records')
        names = os.listdir(folder) if osp.isdir(folder) else []
        return [name[:-5] for name in names if name.endswith('.json') and not name.startswith('.')]

    def missing(self, stems: Sequence[str]) -> List[str]:
        """The stems that are not finished yet."""
        return [stem for stem in stems if not self.is_done(stem)]

    def is_done(self, stem: str) -> bool:
        """Whether the item is finished (subclasses check their own files too)."""
        return self.read_record(stem) is not None

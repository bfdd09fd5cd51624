"""The CAM stage's output folder: CAMs, initial masks, per-item records, summary.

Layout of ``out_dir`` (see docs/architecture.md, "Stage outputs on disk"):

- ``cams/{stem}.npz`` and ``masks/{stem}.png``: written with
  :mod:`epsam.pseudo_labels.cam_store` for every item that gets a mask;
- ``records/{stem}.json``: one record per processed item (``status``
  ``'masked'`` or ``'negative'``, scores, label, empty-CAM / empty-mask
  flags), written after the item's files, so a record marks a finished item;
- ``settings.json``: what produced the folder; a rerun with other settings is
  refused instead of mixing two runs' outputs;
- ``records.jsonl`` (all records, sorted by stem) and ``summary.json``
  (counts, settings, checkpoint): written last, once every item has a record.

Every file is written atomically; nothing holds a time stamp, so the same
inputs give byte-identical folders.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

from epsam.utils.atomic_io import atomic_write_bytes, atomic_write_json

__all__ = ['MASKED', 'NEGATIVE', 'CAM_STATUSES', 'CamFolder']

#: The item got a CAM file and an initial mask.
MASKED = 'masked'
#: The item is negative (by its label or the classifier's score): no files.
NEGATIVE = 'negative'
CAM_STATUSES = (MASKED, NEGATIVE)


class CamFolder:
    """Reads and writes one CAM output folder.

    Args:
        out_dir: The folder (created on first write).
    """

    def __init__(self, out_dir: str) -> None:
        self.out_dir = os.fspath(out_dir)

    # --- paths ----------------------------------------------------------------
    def cam_path(self, stem: str) -> str:
        """``cams/{stem}.npz``."""
        return osp.join(self.out_dir, 'cams', f'{stem}.npz')

    def mask_path(self, stem: str) -> str:
        """``masks/{stem}.png``."""
        return osp.join(self.out_dir, 'masks', f'{stem}.png')

    def record_path(self, stem: str) -> str:
        """``records/{stem}.json``."""
        return osp.join(self.out_dir, 'records', f'{stem}.json')

    def vis_path(self, stem: str) -> str:
        """``vis/{stem}.png`` (picture grid)."""
        return osp.join(self.out_dir, 'vis', f'{stem}.png')

    @property
    def summary_path(self) -> str:
        """``summary.json``."""
        return osp.join(self.out_dir, 'summary.json')

    # --- settings -------------------------------------------------------------
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

    # --- records --------------------------------------------------------------
    def read_record(self, stem: str) -> Optional[Dict]:
        """The item's record, or ``None`` when absent or unreadable (then it is redone)."""
        try:
            with open(self.record_path(stem), encoding='utf-8') as stream:
                record = json.load(stream)
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get('status') not in CAM_STATUSES:
            return None
        return record

    def is_done(self, stem: str) -> bool:
        """True when the item has a record and, if masked, its npz and png exist."""
        record = self.read_record(stem)
        if record is None:
            return False
        return record['status'] == NEGATIVE or (
            osp.isfile(self.cam_path(stem)) and osp.isfile(self.mask_path(stem)))

    def write_record(self, record: Dict) -> None:
        """Write an item's record (after its files); a negative item's stale files are removed."""
        stem, status = record['stem'], record['status']
        if status not in CAM_STATUSES:
            raise ValueError(f'record status must be one of {CAM_STATUSES}, got {status!r}')
        if status == NEGATIVE:
            for path in (self.cam_path(stem), self.mask_path(stem)):
                if osp.isfile(path):
                    os.remove(path)
        atomic_write_json(self.record_path(stem), record)

    def missing(self, stems: Sequence[str]) -> List[str]:
        """The stems that are not finished yet."""
        return [stem for stem in stems if not self.is_done(stem)]

    # --- summary --------------------------------------------------------------
    def summarise(self, stems: Sequence[str], images: int,
                  extra: Optional[Dict] = None) -> Dict:
        """Aggregate the records of ``stems`` into ``records.jsonl`` and ``summary.json``.

        Args:
            stems: The items that were processed; every one must be finished.
            images: Number of images in the split (processed or not: with
                ``only_positive``, label-negative images are never processed).
            extra: More JSON entries for the summary (settings, checkpoint).

        Returns:
            The summary: ``images``, ``processed``, ``positives`` (images
            whose label or prediction is positive), ``negatives``,
            ``unlabelled`` (processed without a label), ``masked`` (images with a CAM file and
            a mask), ``empty_cams`` (masked images whose CAM has no positive
            pixel) and ``empty_masks`` (masked images whose mask has no
            foreground pixel), plus ``extra``.

        Raises:
            RuntimeError: an item is not finished (another rank is still busy).
        """
        records = []
        for stem in sorted(set(stems)):
            if not self.is_done(stem):
                raise RuntimeError(f'{self.record_path(stem)}: item {stem!r} is not finished '
                                   'yet (run every rank first)')
            records.append(self.read_record(stem))
        masked = [r for r in records if r['status'] == MASKED]
        positives = sum(r.get('positive') is True for r in records)
        unlabelled = sum(r.get('positive') is None for r in records)
        summary = dict(images=int(images), processed=len(records), positives=positives,
                       negatives=int(images) - positives - unlabelled, unlabelled=unlabelled,
                       masked=len(masked),
                       empty_cams=sum(bool(r['empty_cam']) for r in masked),
                       empty_masks=sum(bool(r['empty_mask']) for r in masked),
                       **(extra or {}))
        lines = ''.join(json.dumps(r, sort_keys=True, ensure_ascii=False) + '\n' for r in records)
        atomic_write_bytes(osp.join(self.out_dir, 'records.jsonl'), lines.encode('utf-8'))
        atomic_write_json(self.summary_path, summary)
        return summary

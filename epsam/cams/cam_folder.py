"""The CAM stage's output folder: CAMs, initial masks, per-item records, summary.

Layout of ``out_dir`` (see docs/architecture.md, "Stage outputs on disk"):

- ``cams/{stem}.npz`` and ``masks/{stem}.png``: written with
  :mod:`epsam.fileio.cam_store` for every item that gets a mask;
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
import os
import os.path as osp
from typing import Dict, Optional, Sequence

from epsam.fileio.item_folder import ItemFolder

__all__ = ['MASKED', 'NEGATIVE', 'CAM_STATUSES', 'CamFolder']

#: The item got a CAM file and an initial mask.
MASKED = 'masked'
#: The item is negative (by its label or the classifier's score): no files.
NEGATIVE = 'negative'
CAM_STATUSES = (MASKED, NEGATIVE)


class CamFolder(ItemFolder):
    """Reads and writes one CAM output folder.

    Args:
        out_dir: The folder (created on first write).
    """

    STATUSES = CAM_STATUSES

    def cam_path(self, stem: str) -> str:
        """``cams/{stem}.npz``."""
        return osp.join(self.out_dir, 'cams', f'{stem}.npz')

    def vis_path(self, stem: str) -> str:
        """``vis/{stem}.png`` (picture grid)."""
        return osp.join(self.out_dir, 'vis', f'{stem}.png')

    def is_done(self, stem: str) -> bool:
        """True when the item has a record and, if masked, its npz and png exist."""
        record = self.read_record(stem)
        if record is None:
            return False
        return record['status'] == NEGATIVE or (
            osp.isfile(self.cam_path(stem)) and osp.isfile(self.mask_path(stem)))

    def write_record(self, record: Dict) -> None:
        """Write an item's record (after its files); a negative item's stale files are removed."""
        if record['status'] == NEGATIVE:
            for path in (self.cam_path(record['stem']), self.mask_path(record['stem'])):
                if osp.isfile(path):
                    os.remove(path)
        super().write_record(record)

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
        self.write_summary(records, summary)
        return summary

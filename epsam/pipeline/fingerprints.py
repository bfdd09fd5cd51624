"""What a pipeline stage was made from: a fingerprint of its settings and inputs.

A fingerprint is a flat, ordered mapping of named items, stored in the
stage's ``stage_done.json`` (key ``fingerprint``) and compared on a rerun:

* settings, named by their config key (``data_root``, ``sam.variant``,
  ``pseudo_labels.selector``): short values as they are, so a message can
  say ``data_root (data/a -> data/b)``, longer ones as a SHA-256 digest;
  ``*.config`` items are the digest of a resolved sub-config (the file and
  its ``_base_`` files, not its path);
* ``files:{folder}``: the sorted names and sizes of the files of an input
  folder (relative to ``data_root``), or ``None`` when it is missing;
* ``upstream:{stage}``: the digest of an upstream stage's fingerprint, so a
  change upstream changes every fingerprint downstream.

:func:`describe_changes` names the items that differ between two fingerprints.
"""
import hashlib
import json
import os
import os.path as osp
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

__all__ = ['FINGERPRINT_VERSION', 'Fingerprint', 'jsonable', 'digest', 'setting_value',
           'list_files', 'describe_changes']

FINGERPRINT_VERSION = 1
#: Settings whose JSON is at most this long are stored as they are, longer ones as a digest.
MAX_PLAIN_LENGTH = 100
FILES_PREFIX = 'files:'
UPSTREAM_PREFIX = 'upstream:'
DIGEST_PREFIX = 'sha256:'


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON types: mappings as dicts, tuples as lists, others by repr."""
    if isinstance(value, dict) or hasattr(value, 'to_dict'):
        value = value.to_dict() if hasattr(value, 'to_dict') else value
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _dumps(value: Any) -> str:
    return json.dumps(jsonable(value), sort_keys=True, ensure_ascii=False)


def digest(value: Any) -> str:
    """``'sha256:'`` and the first 16 hex digits of the SHA-256 of ``value``'s sorted JSON."""
    return DIGEST_PREFIX + hashlib.sha256(_dumps(value).encode('utf-8')).hexdigest()[:16]


def setting_value(value: Any) -> Any:
    """How a setting is stored: itself when its JSON is short, else its digest."""
    value = jsonable(value)
    return value if len(_dumps(value)) <= MAX_PLAIN_LENGTH else digest(value)


def list_files(folder: str) -> Optional[Dict[str, int]]:
    """Relative path -> size of every file under ``folder`` (hidden ones left out).

    Args:
        folder: An input folder.

    Returns:
        The listing, or ``None`` when the folder does not exist.
    """
    if not osp.isdir(folder):
        return None
    found = {}
    for base, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
        for name in names:
            if name.startswith('.'):
                continue
            path = osp.join(base, name)
            try:
                found[osp.relpath(path, folder).replace(os.sep, '/')] = os.path.getsize(path)
            except OSError:  # vanished meanwhile
                continue
    return dict(sorted(found.items()))


@dataclass(frozen=True)
class Fingerprint:
    """The named items a stage depends on (see the module docstring).

    Args:
        items: Item name -> stored value.
    """

    items: Dict[str, Any]

    @property
    def digest(self) -> str:
        return digest(dict(version=FINGERPRINT_VERSION, items=self.items))

    def to_record(self) -> Dict[str, Any]:
        """What ``stage_done.json`` stores under ``fingerprint``."""
        return dict(version=FINGERPRINT_VERSION, digest=self.digest, items=self.items)

    @staticmethod
    def from_record(record: Optional[Dict[str, Any]]) -> Optional['Fingerprint']:
        """The fingerprint a stage record holds, or ``None`` (records of older epsam)."""
        stored = (record or {}).get('fingerprint')
        if not isinstance(stored, dict) or not isinstance(stored.get('items'), dict):
            return None
        return Fingerprint(stored['items'])


def _show(value: Any) -> str:
    return value if isinstance(value, str) else _dumps(value)


def _count(files: Optional[Dict[str, int]]) -> str:
    return 'missing' if files is None else f'{len(files)} files'


def _file_change(folder: str, old: Optional[Dict[str, int]],
                 new: Optional[Dict[str, int]]) -> str:
    if old is None or new is None:
        return f'{folder} ({_count(old)} -> {_count(new)})'
    differ = len(set(old) ^ set(new)) + sum(old[name] != new[name] for name in set(old) & set(new))
    if differ == 1:
        return f'1 file of {folder} differs'
    return f'{differ} files of {folder} differ'


def describe_changes(old: Fingerprint, new: Fingerprint) -> List[str]:
    """The items that differ, as short phrases: settings, then files, then upstream stages.

    Args:
        old: The recorded fingerprint.
        new: The fingerprint of the current config and data.

    Returns:
        E.g. ``['data_root (data/a -> data/b)', 'sam_tuning.config (changed)',
        '3 files of train/image differ', 'upstream step1_classifier changed']``.
    """
    settings, files, upstream = [], [], []
    for key in list(dict.fromkeys([*new.items, *old.items])):
        if key in old.items and key in new.items and old.items[key] == new.items[key]:
            continue
        if key.startswith(FILES_PREFIX):
            folder = key[len(FILES_PREFIX):]
            if key not in old.items:
                files.append(f'{folder} (new input, {_count(new.items[key])})')
            elif key not in new.items:
                files.append(f'{folder} (no longer an input)')
            else:
                files.append(_file_change(folder, old.items[key], new.items[key]))
        elif key.startswith(UPSTREAM_PREFIX):
            change = ('added' if key not in old.items else
                      'no longer upstream' if key not in new.items else 'changed')
            upstream.append(f'upstream {key[len(UPSTREAM_PREFIX):]} {change}')
        elif key not in old.items:
            settings.append(f'{key} (added)')
        elif key not in new.items:
            settings.append(f'{key} (no longer set)')
        else:
            before, after = old.items[key], new.items[key]
            hidden = any(isinstance(v, str) and v.startswith(DIGEST_PREFIX)
                         for v in (before, after))
            settings.append(f'{key} (changed)' if hidden else
                            f'{key} ({_show(before)} -> {_show(after)})')
    if not (settings or files or upstream) and old.digest != new.digest:
        settings.append('fingerprint format (older epsam)')
    return settings + files + upstream

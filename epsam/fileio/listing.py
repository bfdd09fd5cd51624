"""List the files of a dataset split, reporting every path left out and why.

Policy: a file belongs to a split when it is a regular file (or a link to one)
directly in the folder whose name ends in the suffix exactly, case included.
Everything else in the folder is *skipped and reported*: a dangling link, a
folder (also one named like an image, ``x.png/``), a file with another
extension, and a file whose suffix differs only in case (``x.PNG`` for
``'.png'``; rename it or set the dataset's suffix). Case-sensitive matching
keeps every name the tools rebuild from a stem (``stem + suffix``) valid.
"""
import os
import os.path as osp
from typing import List, Optional, Tuple

import mmengine.fileio as fileio
from mmengine.logging import MMLogger

from .errors import EmptySplitError, FileProblem

__all__ = ['list_split_files', 'skip_reason', 'warn_skipped']

#: Examples named in the one warning per folder.
MAX_EXAMPLES = 3


def skip_reason(folder: str, name: str, suffix: str) -> Optional[str]:
    """Why ``folder/name`` is not a data file ending in ``suffix``; ``None`` if it is one.

    Args:
        folder: The split folder (local).
        name: A name in it.
        suffix: The data suffix, e.g. ``'.png'``.
    """
    path = osp.join(folder, name)
    if osp.islink(path) and not osp.exists(path):
        return f'dangling symbolic link (its target {os.readlink(path)!r} does not exist)'
    if osp.isdir(path):
        looks = ' named like a data file' if name.lower().endswith(suffix.lower()) else ''
        return f'a folder{looks}, not a file (listing is not recursive)'
    if not osp.isfile(path):
        return 'not a regular file'
    if name.endswith(suffix):
        return None
    if name.lower().endswith(suffix.lower()):
        found = name[len(name) - len(suffix):]
        return (f'suffix {found!r} differs from {suffix!r} only in case (suffixes are '
                'case-sensitive); rename the file or set the dataset\'s suffix')
    return f'does not end in {suffix!r}'


def warn_skipped(skipped: List[FileProblem], folder: str) -> None:
    """One MMLogger warning for the paths skipped in ``folder``, with a few examples."""
    if not skipped:
        return
    shown = '; '.join(str(problem) for problem in skipped[:MAX_EXAMPLES])
    more = len(skipped) - MAX_EXAMPLES
    rest = f'; ... and {more} more' if more > 0 else ''
    MMLogger.get_current_instance().warning(
        f'{folder}: {len(skipped)} path(s) left out of the dataset: {shown}{rest} '
        '(scan_dataset lists them all)')


def _is_local(folder: str, backend_args: Optional[dict]) -> bool:
    backend = fileio.get_file_backend(folder, backend_args=backend_args)
    return isinstance(backend, fileio.LocalBackend)


def list_split_files(folder: str,
                     suffix: str,
                     backend_args: Optional[dict] = None,
                     skipped: Optional[List[FileProblem]] = None) -> Tuple[str, ...]:
    """Sorted file names (not paths) in ``folder`` ending in ``suffix``; not recursive.

    Every other path in a local folder is logged in one warning and, when
    ``skipped`` is a list, appended to it as a :class:`FileProblem`.

    Args:
        folder: The split folder.
        suffix: The data suffix (matched case-sensitively).
        backend_args: mmengine file backend arguments.
        skipped: Collects the paths left out, with the reason.

    Raises:
        EmptySplitError: the folder is missing or holds no such file.
    """
    if not folder or not fileio.isdir(folder, backend_args=backend_args):
        raise EmptySplitError(folder, suffix, 'folder does not exist')
    if not _is_local(folder, backend_args):
        names = sorted(fileio.list_dir_or_file(folder, list_dir=False, suffix=suffix,
                                               recursive=False, backend_args=backend_args))
        left_out: List[FileProblem] = []
    else:
        names, left_out = [], []
        for name in sorted(os.listdir(folder)):
            reason = skip_reason(folder, name, suffix)
            if reason is None:
                names.append(name)
            else:
                left_out.append(FileProblem(osp.join(folder, name), reason))
    warn_skipped(left_out, folder)
    if skipped is not None:
        skipped.extend(left_out)
    if not names:
        detail = f'{len(left_out)} other path(s) skipped: {left_out[0]}' if left_out else ''
        raise EmptySplitError(folder, suffix, detail)
    return tuple(names)

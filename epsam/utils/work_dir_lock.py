"""One run per output folder: a lock file naming its holder.

``tools/run_pipeline.py`` (every :class:`~epsam.pipeline.EPSAMPipeline` run)
and ``tools/generate_cams.py`` hold ``{folder}/.epsam.lock`` while they
write. The file is created atomically (``os.open`` with ``O_CREAT|O_EXCL``:
of two processes, exactly one creates it) and holds the holder's pid, host
name and start time, so a second run is refused with a message naming the
holder::

    error: work_dirs/x is in use by pid 1234 on host node7 since 2025-01-02 10:11:12;
    wait for it or delete work_dirs/x/.epsam.lock if that process is gone

A lock left by a killed process on this host (its pid no longer runs) is
stale: it is reported in one warning line and taken over. A lock from
another host cannot be checked and is never taken over.
"""
import json
import os
import os.path as osp
import socket
import sys
import time
from typing import Callable, Dict, Optional

from epsam.utils.errors import UserError

__all__ = ['LOCK_FILE', 'WorkDirBusyError', 'WorkDirLock', 'pid_is_running']

#: Name of the lock file inside the locked folder.
LOCK_FILE = '.epsam.lock'


class WorkDirBusyError(UserError, RuntimeError):
    """Another run holds the folder's lock (the message names it and the fix)."""


def pid_is_running(pid: int) -> bool:
    """Whether a process with this pid exists on this host.

    Args:
        pid: A process id.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by another user
        return True
    except OSError:
        return False
    return True


def _print_warning(message: str) -> None:
    print(f'warning: {message}', file=sys.stderr, flush=True)


class WorkDirLock:
    """Hold ``{folder}/.epsam.lock`` while a run writes into ``folder``.

    Use it as a context manager; the lock is released when the block ends,
    normally or by an exception. It is not re-entrant: a second acquisition,
    even from the same process, is refused.

    Args:
        folder: The folder to lock (created when missing).
        warn: Receives the one-line warning when a stale lock is taken over
            (default: printed to stderr).
    """

    def __init__(self, folder: str, warn: Optional[Callable[[str], None]] = None) -> None:
        self.folder = os.fspath(folder)
        self.path = osp.join(self.folder, LOCK_FILE)
        self.warn = warn or _print_warning
        self._owner: Optional[Dict] = None

    # --- the lock file -----------------------------------------------------------
    def _create(self, owner: Dict) -> bool:
        """Create the lock file holding ``owner``; False when it exists already."""
        try:
            handle = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        try:
            os.write(handle, json.dumps(owner).encode('utf-8'))
            os.fsync(handle)
        except BaseException:  # e.g. a full disk: leave no empty lock behind
            os.close(handle)
            os.remove(self.path)
            raise
        os.close(handle)
        return True

    def holder(self) -> Optional[Dict]:
        """The lock's holder (``pid``, ``host``, ``started``), ``{}`` when the file
        cannot be read, or ``None`` when there is no lock."""
        try:
            with open(self.path, encoding='utf-8') as stream:
                owner = json.load(stream)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}
        return owner if isinstance(owner, dict) else {}

    def _is_stale(self, owner: Dict) -> bool:
        return (owner.get('host') == socket.gethostname() and isinstance(owner.get('pid'), int)
                and not pid_is_running(owner['pid']))

    def _take_over(self, stale: Dict) -> bool:
        """Remove the stale lock ``stale``; False when another run replaced it meanwhile."""
        aside = f'{self.path}.stale-{os.getpid()}'
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return True  # someone else removed it: try to create ours
        try:
            with open(aside, encoding='utf-8') as stream:
                moved = json.load(stream)
        except (OSError, ValueError):
            moved = {}
        if moved != stale:  # a fresh lock of another run: put it back
            try:
                os.link(aside, self.path)
            except OSError:
                pass
            os.remove(aside)
            return False
        os.remove(aside)
        return True

    def _busy_message(self, owner: Dict) -> str:
        if not owner:
            who = 'another run (its lock file cannot be read)'
        else:
            who = (f"pid {owner.get('pid', '?')} on host {owner.get('host', '?')} since "
                   f"{owner.get('started', '?')}")
        return (f'{self.folder} is in use by {who}; wait for it or delete {self.path} if '
                'that process is gone')

    # --- acquire / release -------------------------------------------------------
    def acquire(self) -> 'WorkDirLock':
        """Take the lock, taking over a stale one.

        Raises:
            WorkDirBusyError: A live process (or one on another host) holds it.
        """
        if self._owner is not None:
            raise WorkDirBusyError(self._busy_message(self._owner))
        os.makedirs(self.folder, exist_ok=True)
        owner = dict(pid=os.getpid(), host=socket.gethostname(),
                     started=time.strftime('%Y-%m-%d %H:%M:%S'), token=os.urandom(8).hex())
        for _ in range(3):
            if self._create(owner):
                self._owner = owner
                return self
            current = self.holder()
            if current is None:
                continue  # released in between
            if not self._is_stale(current):
                raise WorkDirBusyError(self._busy_message(current))
            if self._take_over(current):
                self.warn(f"{self.path}: stale lock of pid {current['pid']} (no longer "
                          f"running on this host, since {current.get('started', '?')}); "
                          'taken over')
        raise WorkDirBusyError(self._busy_message(self.holder() or {}))

    def release(self) -> None:
        """Remove the lock file if it is still this lock's."""
        if self._owner is None:
            return
        if self.holder() == self._owner:
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass
        self._owner = None

    def __enter__(self) -> 'WorkDirLock':
        return self.acquire()

    def __exit__(self, *exc_info) -> None:
        self.release()

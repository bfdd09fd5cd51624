"""Progress bars that end their line and stay readable in log files.

mmengine's ``ProgressBar`` redraws one line with carriage returns and never
ends it, so the next log record is printed on the bar's line, and a log file
(``> run.log``, a Slurm job's output) collects every redraw on one long line.
:func:`progress_bar` keeps mmengine's bar on a terminal, ends its line when
the work is done (or closed early), and prints a plain line every tenth of
the work when the output is not a terminal.
"""
import sys
import time
from typing import Optional, TextIO

__all__ = ['progress_bar']


class _Silent:
    """The bar of a run that shows no progress."""

    def update(self, num_tasks: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


class _TerminalBar:
    """mmengine's ``ProgressBar``, with its line ended once, at the end."""

    def __init__(self, total: int, file: TextIO) -> None:
        from mmengine.utils import ProgressBar
        self._bar = ProgressBar(total, file=file)
        self._file = file
        self._open = True

    def update(self, num_tasks: int = 1) -> None:
        if num_tasks <= 0:
            return
        self._bar.update(num_tasks)
        if self._bar.completed >= self._bar.task_num:
            self.close()

    def close(self) -> None:
        if self._open:
            self._file.write('\n')
            self._file.flush()
            self._open = False


class _LogLines:
    """``done/total`` lines at every tenth of the work, for output that is not a terminal.

    Args:
        total: The number of tasks.
        file: Where the lines go.
        label: Words that start every line.
    """

    def __init__(self, total: int, file: TextIO, label: str) -> None:
        self.total, self.file, self.label = total, file, label
        self.completed = 0
        self._next_tenth = 1
        self._start = time.perf_counter()

    def update(self, num_tasks: int = 1) -> None:
        if num_tasks <= 0:
            return
        self.completed += num_tasks
        tenth = self.completed * 10 // self.total
        if tenth < self._next_tenth:
            return
        self._next_tenth = tenth + 1
        elapsed = time.perf_counter() - self._start
        eta = elapsed * (self.total - self.completed) / max(self.completed, 1)
        self.file.write(f'{self.label}{self.completed}/{self.total} '
                        f'({100 * self.completed // self.total}%), elapsed {elapsed:.0f} s, '
                        f'ETA {eta:.0f} s\n')
        self.file.flush()

    def close(self) -> None:
        pass


def progress_bar(total: int, enabled: bool = True, label: str = '',
                 file: Optional[TextIO] = None):
    """A progress display over ``total`` tasks: ``update(n)`` after each, ``close()`` at the end.

    Args:
        total: The number of tasks; nothing is shown when it is 0 or less.
        enabled: ``False`` shows nothing.
        label: Words printed before the counts on log-file lines
            (e.g. ``'CAMs: '``).
        file: The output (default: ``sys.stdout``). A terminal gets
            mmengine's bar; anything else one line per tenth of the work.
    """
    if not enabled or total <= 0:
        return _Silent()
    file = file if file is not None else sys.stdout
    isatty = getattr(file, 'isatty', None)
    if isatty is not None and isatty():
        return _TerminalBar(total, file)
    return _LogLines(total, file, label)

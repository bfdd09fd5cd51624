"""One way for every epsam tool to report a user's mistake: one line, exit code 2.

A tool's ``__main__`` block calls :func:`run_tool`::

    if __name__ == '__main__':
        run_tool(main)

which runs ``main()`` and turns epsam's user-facing errors (bad files, empty
splits, bad checkpoints, stale stages, busy work dirs, config problems,
missing files, :class:`ToolError`) into::

    error: <path or key>: <what is wrong>; <what to do>

on stderr and exit code 2. The Python traceback is printed (before that line)
only with ``--debug`` on the command line (:func:`add_debug_argument`) or
``EPSAM_DEBUG=1`` in the environment. Any other exception is a bug and keeps
its traceback.
"""
import argparse
import os
import sys
import traceback
from typing import Any, Callable, Optional, Sequence, Tuple, Type

import torch.distributed as dist

from .errors import UserError

__all__ = ['DefaultsHelpFormatter', 'ToolError', 'EXIT_USER_ERROR', 'add_debug_argument',
           'debug_requested', 'user_error_types', 'error_line', 'report_user_error', 'run_tool',
           'close_process_group']

#: Exit code of a tool stopped by a user error (argparse uses it for bad arguments too).
EXIT_USER_ERROR = 2
DEBUG_FLAG = '--debug'
DEBUG_VARIABLE = 'EPSAM_DEBUG'


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter,
                            argparse.RawDescriptionHelpFormatter):
    """``--help`` with every option's default (except empty ones: None, flags, lists),
    and the description's line breaks kept."""

    def _get_help_string(self, action: argparse.Action) -> str:
        empty = action.default is None or isinstance(action.default, (bool, list))
        if empty or '(default' in (action.help or ''):  # none, or the help says it
            return action.help
        return super()._get_help_string(action)


class ToolError(SystemExit):
    """A user-facing error of a tool; :func:`run_tool` prints it and exits with 2.

    It is a :class:`SystemExit` whose code is the ``error: ...`` text, so code
    calling a tool's ``main()`` directly sees the same message.

    Args:
        message: ``'<path or key>: <what is wrong>; <what to do>'`` (without
            the ``error:`` prefix).
    """

    def __init__(self, message: str) -> None:
        super().__init__(f'error: {message}')


def add_debug_argument(parser) -> None:
    """Add ``--debug`` (show the traceback of a user error) to an argparse parser."""
    parser.add_argument(
        DEBUG_FLAG, action='store_true',
        help=f'print the Python traceback of an error too (or set {DEBUG_VARIABLE}=1)')


def debug_requested(argv: Optional[Sequence[str]] = None) -> bool:
    """``--debug`` in ``argv`` (default ``sys.argv``) or ``EPSAM_DEBUG`` set to a true value."""
    argv = sys.argv[1:] if argv is None else argv
    flag = os.environ.get(DEBUG_VARIABLE, '').strip().lower() in ('1', 'true', 'yes', 'y')
    return flag or DEBUG_FLAG in argv


def user_error_types() -> Tuple[Type[BaseException], ...]:
    """Exception types that are the user's to fix: every :class:`UserError`, and a missing file."""
    return (UserError, FileNotFoundError)


def error_line(error: BaseException) -> str:
    """The ``error: ...`` text of a user error."""
    if isinstance(error, SystemExit):
        return str(error.code)
    if type(error) is FileNotFoundError and error.filename:  # e.g. mmengine's Config
        return f'error: {error.filename}: {error.strerror or "not found"}; check the path'
    return f'error: {error}'


def _print_traceback(error: BaseException) -> None:
    """The traceback of ``error``, or of the error it was raised from."""
    shown = error.__cause__ or error.__context__ if isinstance(error, SystemExit) else None
    shown = shown or error
    traceback.print_exception(type(shown), shown, shown.__traceback__)


def run_tool(main: Callable[[], Any], argv: Optional[Sequence[str]] = None) -> None:
    """Run a tool's ``main()``; exit 2 with one ``error:`` line on a user error.

    Args:
        main: The tool's entry point, called without arguments.
        argv: The arguments checked for ``--debug``; default ``sys.argv[1:]``.

    An integer returned by ``main`` is the exit code; anything else exits 0.
    """
    succeeded = False
    try:
        result = main()
        succeeded = not isinstance(result, int) or result == 0
    except SystemExit as error:
        if not (isinstance(error.code, str) and error.code.startswith('error:')):
            raise
        _fail(error, argv)
    except Exception as error:  # noqa: BLE001 - filtered by type just below
        if not isinstance(error, user_error_types()):
            raise
        _fail(error, argv)
    finally:
        close_process_group(wait_for_ranks=succeeded)
    sys.exit(result if isinstance(result, int) else 0)


def close_process_group(wait_for_ranks: bool = False) -> None:
    """Destroy this process's launcher group, if any, before the interpreter exits.

    A rank that tears its gloo group down (or leaves it to interpreter
    shutdown) while another rank still talks to it can abort (``terminate
    called without an active exception``, exit -6), which fails the whole
    launch after the work is done.

    Args:
        wait_for_ranks: Meet every rank at a barrier first (only when this
            rank succeeded: a failed rank's peers may never come).
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    if wait_for_ranks:
        dist.barrier()
    dist.destroy_process_group()


def report_user_error(error: BaseException, argv: Optional[Sequence[str]] = None) -> int:
    """Print ``error`` as one ``error:`` line (its traceback first when debugging); return 2.

    For a tool whose ``main()`` returns its exit code instead of raising.
    """
    if debug_requested(argv):
        _print_traceback(error)
    sys.stderr.write(error_line(error) + '\n')
    sys.stderr.flush()
    return EXIT_USER_ERROR


def _fail(error: BaseException, argv: Optional[Sequence[str]]) -> None:
    sys.exit(report_user_error(error, argv))

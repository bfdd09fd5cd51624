"""The base class of every error that is the user's to fix.

A user-facing error (a bad file, an empty split, a checkpoint that does not
fit, a stale stage, a busy work dir, ...) inherits :class:`UserError` *and*
keeps its builtin base (``ValueError``, ``FileNotFoundError``,
``RuntimeError``, ...), so existing ``except`` clauses keep working while
:func:`epsam.utils.cli.run_tool` catches them all by one type, without
importing the packages that raise them.
"""

__all__ = ['UserError']


class UserError(Exception):
    """Marks an exception as the user's to fix: tools print it as one ``error:`` line.

    Mixed into each user-facing error class beside its builtin base, e.g.
    ``class PatchFileError(UserError, ValueError)``; it adds no state.
    """

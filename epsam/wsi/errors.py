"""Errors of the whole-slide tools: each names the file and what is wrong with it."""

from epsam.utils.errors import UserError

__all__ = ['WSIError', 'SlideReadError', 'AnnotationError', 'MissingDependencyError']


class WSIError(UserError, ValueError):
    """A whole-slide input is unusable.

    Args:
        filename: The file at fault.
        reason: What is wrong, as a sentence fragment.
    """

    def __init__(self, filename: str, reason: str) -> None:
        self.filename = str(filename)
        self.reason = reason
        super().__init__(f'{self.filename}: {reason}')


class SlideReadError(WSIError):
    """A slide cannot be opened or read (not a slide, unknown level, bad region)."""


class AnnotationError(WSIError):
    """An annotation file cannot be parsed or does not fit the slide."""


class MissingDependencyError(ImportError):
    """An optional package needed for whole-slide work is not installed.

    Args:
        package: The pip command line that installs it.
        purpose: What it is needed for.
    """

    def __init__(self, package: str, purpose: str) -> None:
        super().__init__(f'{purpose} needs an optional package: pip install {package}')

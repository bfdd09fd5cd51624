"""Errors raised for bad dataset input, each naming the file and the problem."""
from dataclasses import dataclass
from typing import List, Sequence, Tuple

from epsam.utils.errors import UserError


class PatchFileError(UserError, ValueError):
    """A single image, mask or label file cannot be used.

    Args:
        filename: The file at fault (as given, usually a path).
        reason: What is wrong with it, in words a user can act on.
    """

    def __init__(self, filename: str, reason: str) -> None:
        self.filename = str(filename)
        self.reason = reason
        super().__init__(f'{self.filename}: {reason}')


class LabelParseError(PatchFileError):
    """The image-level label cannot be read from a file name or label table."""


class EmptySplitError(UserError, FileNotFoundError):
    """A dataset split lists no files.

    Args:
        folder: The folder searched.
        suffix: The file suffix searched for.
        detail: Extra words (e.g. ``'folder does not exist'``).
    """

    def __init__(self, folder: str, suffix: str, detail: str = '') -> None:
        self.folder = str(folder)
        self.suffix = suffix
        message = f'{self.folder}: no files ending in {suffix!r} found'
        if detail:
            message += f' ({detail})'
        super().__init__(f'{message}; check data_root and data_prefix in the config')


class NoPositivePatchError(EmptySplitError):
    """A split that needs masks holds only negative patches (so no mask).

    Args:
        img_dir: The image folder.
        suffix: The image suffix.
        num_images: Number of (negative) patches listed.
        ann_dir: The mask folder, empty or missing.
    """

    def __init__(self, img_dir: str, suffix: str, num_images: int, ann_dir: str) -> None:
        FileNotFoundError.__init__(
            self, f'{img_dir}: no positive patch (all {num_images} patches are labelled '
            f'negative), so {ann_dir!r} holds no mask to evaluate against; add positive '
            'patches with their masks to this split, or set require_masks=False if it is '
            'not used for evaluation')
        self.folder = str(img_dir)
        self.suffix = suffix


@dataclass(frozen=True)
class FileProblem:
    """One bad file found while listing or scanning a dataset.

    Args:
        path: The file at fault.
        problem: What is wrong with it.
    """

    path: str
    problem: str

    def __str__(self) -> str:
        return f'{self.path}: {self.problem}'


def format_problems(problems: Sequence[FileProblem], max_shown: int = 20) -> str:
    """One line per problem, at most ``max_shown`` lines plus a count of the rest."""
    lines = [f'  {problem}' for problem in problems[:max_shown]]
    if len(problems) > max_shown:
        lines.append(f'  ... and {len(problems) - max_shown} more')
    return '\n'.join(lines)


class DatasetFilesError(UserError, ValueError):
    """Several files of a dataset are bad; the message lists them all.

    Args:
        problems: Every bad file found, with its problem.
        where: Words naming the dataset or folder, for the first line.
    """

    def __init__(self, problems: Sequence[FileProblem], where: str) -> None:
        self.problems = list(problems)
        super().__init__(f'{len(self.problems)} bad file(s) in {where}:\n'
                         f'{format_problems(self.problems)}')


def checked_entries(listing: Tuple[List[dict], List[FileProblem]], where: str) -> List[dict]:
    """The entries of a ``(entries, problems)`` listing; one error naming every bad file.

    Args:
        listing: A dataset's entries and the problems found while listing them.
        where: Words naming the dataset or folder, for the error's first line.

    Raises:
        DatasetFilesError: Some files were bad.
    """
    entries, problems = listing
    if problems:
        raise DatasetFilesError(problems, where)
    return entries

"""Where patches are cut: spatial splits, candidate windows and their seeded selection.

The image is cut into bands across its longer side (horizontal bands for a
portrait image), each ``band`` pixels wide, and the bands are dealt to the
splits by a fixed cycle (``SPLIT_CYCLE``: train, val, train, test, train, ...).
A patch lies wholly inside one band run of its split, so patches of different
splits never overlap and the test patches come from tissue that no training
patch shows. Within a split, the candidate windows (a grid with step
``stride``) that meet a stratum's class-fraction test are visited in a seeded
random order and kept while they overlap every kept window of the split by at
most ``max_overlap`` of a patch's area. The same seed gives the same windows;
another seed gives other windows, never other split regions.
"""
from dataclasses import dataclass
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np

__all__ = [
    'SPLIT_CYCLE', 'Window', 'split_regions', 'class_fractions', 'candidate_windows',
    'select_windows', 'TooFewPatchesError'
]

#: Split of band 0, 1, 2, ... (repeated): 60 % train, 20 % val, 20 % test by area.
SPLIT_CYCLE = ('train', 'val', 'train', 'test', 'train')


class TooFewPatchesError(ValueError):
    """A split's region holds fewer acceptable windows than were asked for."""


@dataclass(frozen=True)
class Window:
    """A square patch window at the working resolution.

    Args:
        row: Top row.
        col: Left column.
        stratum: Index of the stratum (e.g. 1 positive, 0 negative) it was drawn for.
    """

    row: int
    col: int
    stratum: int


def split_regions(shape: Tuple[int, int], band: int,
                  cycle: Sequence[str] = SPLIT_CYCLE) -> Dict[str, List[Tuple[int, int]]]:
    """Runs of bands (across the longer image side) that belong to each split.

    Args:
        shape: (H, W) of the image.
        band: Band width in pixels along the longer side.
        cycle: Split name of each band, repeated.

    Returns:
        dict: split name -> list of (start, stop) pixel ranges along the
        longer side (half-open); consecutive bands of one split are merged.
    """
    length = max(shape)
    regions: Dict[str, List[Tuple[int, int]]] = {name: [] for name in dict.fromkeys(cycle)}
    for index, start in enumerate(range(0, length, band)):
        name = cycle[index % len(cycle)]
        stop = min(start + band, length)
        runs = regions[name]
        if runs and runs[-1][1] == start:
            runs[-1] = (runs[-1][0], stop)
        else:
            runs.append((start, stop))
    return regions


def class_fractions(class_map: np.ndarray, classes: Sequence[int], size: int, rows: np.ndarray,
                    cols: np.ndarray) -> np.ndarray:
    """Area fraction of each class in every ``size`` x ``size`` window of a grid.

    Args:
        class_map: Integer label map (H, W).
        classes: Class indices to measure.
        size: Window side in pixels.
        rows: Top rows of the windows (1-D).
        cols: Left columns of the windows (1-D).

    Returns:
        np.ndarray: float64 array (len(classes), len(rows), len(cols)).
    """
    out = np.empty((len(classes), len(rows), len(cols)))
    r0, c0 = rows[:, None], cols[None, :]
    for k, index in enumerate(classes):
        total = np.zeros((class_map.shape[0] + 1, class_map.shape[1] + 1), np.int64)
        total[1:, 1:] = (class_map == index).cumsum(0).cumsum(1)
        out[k] = (total[r0 + size, c0 + size] - total[r0, c0 + size] - total[r0 + size, c0] +
                  total[r0, c0]) / float(size * size)
    return out


def candidate_windows(class_map: np.ndarray, size: int, stride: int, span: Tuple[int, int],
                      classes: Sequence[int],
                      strata: Callable[[np.ndarray], np.ndarray]) -> List[np.ndarray]:
    """Windows inside one band run, grouped by stratum.

    Args:
        class_map: Integer label map (H, W).
        size: Window side in pixels.
        stride: Grid step in pixels.
        span: (start, stop) of the band run along the longer image side.
        classes: Class indices whose fractions ``strata`` receives.
        strata: Function of the fractions array (len(classes), R, C) that
            returns an int array (R, C): the stratum of each window, -1 for
            windows to skip.

    Returns:
        list: per stratum, an int array (N, 2) of (row, col) top-left corners,
        in raster order.
    """
    height, width = class_map.shape
    portrait = height >= width
    start, stop = span
    along = np.arange(start, stop - size + 1, stride)
    across = np.arange(0, (width if portrait else height) - size + 1, stride)
    if len(along) == 0 or len(across) == 0:
        return []
    rows, cols = (along, across) if portrait else (across, along)
    label = strata(class_fractions(class_map, classes, size, rows, cols))
    found = []
    for stratum in range(int(label.max()) + 1 if label.size else 0):
        r, c = np.nonzero(label == stratum)
        found.append(np.stack([rows[r], cols[c]], axis=1))
    return found


def select_windows(groups: Sequence[np.ndarray], wanted: Sequence[int], size: int,
                   max_overlap: float, rng: np.random.Generator,
                   round_robin: bool = False) -> List[Window]:
    """Pick windows per stratum in a seeded random order, limiting their overlap.

    Args:
        groups: Per stratum, an int array (N, 2) of candidate (row, col).
        wanted: Windows wanted per stratum; with ``round_robin`` only their
            sum counts.
        size: Window side in pixels.
        max_overlap: Largest overlap of two kept windows, as a fraction of a
            window's area, in [0, 1).
        rng: Random generator (the split's).
        round_robin: Take strata in turn (one window each while they last)
            until ``sum(wanted)`` windows are kept, instead of a fixed count
            per stratum.

    Returns:
        list: The kept windows, as many as ``wanted`` asks when the
        candidates allow it, fewer otherwise (the caller checks).
    """
    orders = [group[rng.permutation(len(group))] if len(group) else group for group in groups]
    kept: List[Window] = []
    corners = np.empty((0, 2), np.int64)
    limit = max_overlap * size * size

    def fits(row: int, col: int) -> bool:
        if not len(corners):
            return True
        overlap = (np.clip(size - np.abs(corners[:, 0] - row), 0, None) *
                   np.clip(size - np.abs(corners[:, 1] - col), 0, None))
        return bool(overlap.max() <= limit)

    positions = [0] * len(orders)

    def take(stratum: int) -> bool:
        nonlocal corners
        order = orders[stratum]
        while positions[stratum] < len(order):
            row, col = (int(v) for v in order[positions[stratum]])
            positions[stratum] += 1
            if fits(row, col):
                kept.append(Window(row, col, stratum))
                corners = np.vstack([corners, [[row, col]]])
                return True
        return False

    if round_robin:
        total, alive = int(sum(wanted)), list(range(len(orders)))
        while len(kept) < total and alive:
            still = []
            for stratum in alive:
                if len(kept) >= total:
                    break
                if take(stratum):
                    still.append(stratum)
            alive = still
    else:
        for stratum, count in enumerate(wanted):
            got = 0
            while got < count and take(stratum):
                got += 1
    return kept

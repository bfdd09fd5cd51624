"""``--restart-from STAGE``: redo a stage and every later one, keeping the old outputs aside.

The folders of that stage and of every later stage (any iteration, also
iterations beyond the current config's) are renamed to
``{stage}.old-{YYYYmmdd-HHMMSS}``, and ``final_metrics.json`` to
``final_metrics.json.old-{...}``: nothing is deleted, and no old item
(a CAM, a pseudo-label, a training checkpoint to resume from) can mix with
the new run's. The shared ``embedding_cache/`` is kept (it is keyed by content).
"""
import os
import os.path as osp
import time
from typing import Iterable, List

from .stage_plan import UnknownStageError, stage_order

__all__ = ['restart_from', 'aside_name']

METRICS_FILE = 'final_metrics.json'


def aside_name(path: str, stamp: str) -> str:
    """``{path}.old-{stamp}``, with ``-2``, ``-3`` ... appended while that name is taken."""
    target, count = f'{path}.old-{stamp}', 1
    while osp.lexists(target):
        count += 1
        target = f'{path}.old-{stamp}-{count}'
    return target


def restart_from(work_dir: str, stage: str, planned: Iterable[str]) -> List[str]:
    """Move ``stage`` and every later stage folder of ``work_dir`` aside.

    Args:
        work_dir: The pipeline's work dir.
        stage: The first stage to redo.
        planned: The stage names of the current config, in order (``stage``
            must be one of them).

    Returns:
        The new paths of what was moved (empty when nothing was there).

    Raises:
        UnknownStageError: ``stage`` is not a stage of the config.
    """
    planned = list(planned)
    if stage not in planned:
        raise UnknownStageError(f'--restart-from {stage!r} is not a stage of this config; use '
                                f"one of: {', '.join(planned)}")
    first = stage_order(stage)
    stamp = time.strftime('%Y%m%d-%H%M%S')
    names = os.listdir(work_dir) if osp.isdir(work_dir) else []
    later = sorted((name for name in names
                    if stage_order(name) is not None and stage_order(name) >= first
                    and osp.isdir(osp.join(work_dir, name))), key=stage_order)
    if osp.isfile(osp.join(work_dir, METRICS_FILE)):
        later.append(METRICS_FILE)  # written by the evaluation, always a later stage
    moved = []
    for name in later:
        path = osp.join(work_dir, name)
        target = aside_name(path, stamp)
        os.rename(path, target)
        moved.append(target)
    return moved

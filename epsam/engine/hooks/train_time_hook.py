"""Training time summed over every process of a run, resumes included."""
import os.path as osp
import time
from typing import Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log

from epsam.fileio.atomic_io import atomic_write_json
from epsam.registry import HOOKS

#: ``meta`` keys of a checkpoint and the info key of the message hub.
TIME_KEY = 'train_time_s'
PROCESSES_KEY = 'train_processes'
#: Written into the work dir at the end of training.
TRAIN_TIME_FILE = 'train_time.json'


@HOOKS.register_module()
class TrainTimeHook(Hook):
    """Count training time across ``--resume``: every checkpoint carries the seconds so far.

    Each checkpoint's ``meta`` holds ``train_time_s`` (training seconds of
    every process up to that checkpoint) and ``train_processes``; a resumed
    run starts from the values of the checkpoint it resumes from (not from a
    ``load_from`` of weights only), so work lost after the last checkpoint is
    counted once, as the time spent redoing it. At the end of training the
    total is logged, set as ``train_time_s`` in the message hub and written to
    ``{work_dir}/train_time.json``.
    """

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self._loaded = (0.0, 0)
        self._carried = (0.0, 0)
        self._start: Optional[float] = None

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Remember the time stored in the checkpoint (used only if it is a resume)."""
        meta = checkpoint.get('meta') or {}
        self._loaded = (float(meta.get(TIME_KEY, 0.0)), int(meta.get(PROCESSES_KEY, 0)))

    def before_train(self, runner) -> None:
        """Start this process's clock; carry the earlier time when resuming."""
        self._carried = self._loaded if runner.iter > 0 else (0.0, 0)
        self._start = time.perf_counter()

    def total_seconds(self) -> float:
        """Training seconds of this process and of the processes it resumed."""
        if self._start is None:
            return self._carried[0]
        return self._carried[0] + time.perf_counter() - self._start

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Store the seconds so far in the checkpoint's ``meta``."""
        meta = checkpoint.setdefault('meta', {})
        meta[TIME_KEY] = self.total_seconds()
        meta[PROCESSES_KEY] = self._carried[1] + 1

    def after_train(self, runner) -> None:
        """Log the total and write ``train_time.json``."""
        total, processes = self.total_seconds(), self._carried[1] + 1
        runner.message_hub.update_info(TIME_KEY, total)
        print_log(f'training time: {total:.1f} s over {processes} process(es) '
                  f'({total - self._carried[0]:.1f} s in this one)', logger='current')
        if runner.rank == 0:
            atomic_write_json(osp.join(runner.work_dir, TRAIN_TIME_FILE),
                              {TIME_KEY: total, PROCESSES_KEY: processes})


def read_train_seconds(work_dir: str, default: float) -> float:
    """``train_time_s`` of ``{work_dir}/train_time.json``, or ``default`` without it.

    Args:
        work_dir: A training work dir.
        default: Returned when the file is missing or unreadable.
    """
    import json
    try:
        with open(osp.join(work_dir, TRAIN_TIME_FILE)) as file:
            return float(json.load(file)[TIME_KEY])
    except (OSError, ValueError, KeyError, TypeError):
        return default

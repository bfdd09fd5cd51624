"""Run mmengine trainings in-process for pipeline stages (classifier, SAM tuning)."""
import logging
import os
import os.path as osp
from typing import Optional

from mmengine.config import Config
from mmengine.logging import MMLogger, print_log
from mmengine.runner import Runner, find_latest_checkpoint

from epsam.engine.config_utils import ensure_training_hooks, load_tool_config


def load_stage_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Read a stage's mmengine config and apply its overrides."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'stage config {path!r} does not exist')
    return load_tool_config(path, dict(cfg_options) if cfg_options else None)


class _SetUpRecordsFilter(logging.Filter):
    """Drops mmengine's set-up records: the environment, the whole config, the hook order."""

    PREFIXES = ('\n' + '-' * 60 + '\nSystem environment', 'Config:\n',
                'Hooks will be executed')

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.PREFIXES)


class StageRunner(Runner):
    """mmengine's ``Runner`` for a pipeline stage: its set-up records go to its log file only.

    A plain ``Runner`` prints its environment, its whole config and its hook
    order (about 300 lines) on the console; a pipeline runs several trainings,
    so the console keeps the training lines and the stage's log file (and the
    config file mmengine dumps into the work dir) keep the rest.
    """

    def build_logger(self, *args, **kwargs) -> MMLogger:
        logger = super().build_logger(*args, **kwargs)
        for handler in logger.handlers:
            if type(handler) is logging.StreamHandler:  # the console, not a FileHandler
                handler.addFilter(_SetUpRecordsFilter())
        return logger


def train_in_work_dir(cfg: Config, work_dir: str, name: str) -> str:
    """Train ``cfg`` in ``work_dir``, resuming from its latest checkpoint if any.

    Args:
        cfg: A complete mmengine training config.
        work_dir: Where checkpoints and logs go.
        name: Experiment name, unique per stage (mmengine appends the start
            time), so its global message hub and logger are not shared between
            stages of one process.

    Returns:
        Path of the checkpoint to use: ``best_*.pth`` when the config saves a
        best checkpoint, else the last one.
    """
    cfg = ensure_training_hooks(cfg.copy())
    cfg.work_dir = work_dir
    cfg.experiment_name = name  # mmengine appends its own timestamp
    cfg.resume = find_latest_checkpoint(work_dir) is not None
    cfg.load_from = None
    runner = StageRunner.from_cfg(cfg)
    config_file = osp.basename(cfg.filename) if cfg.filename else f'{runner.timestamp}.py'
    print_log(f'[pipeline] {name}: config {osp.join(work_dir, config_file)}, environment and '
              f'full log in {runner.log_dir}', logger='current')
    runner.train()
    # Under DDP rank 0 alone saves; the other ranks look for its checkpoint after it.
    from mmengine.dist import barrier
    barrier()
    best = sorted(p for p in os.listdir(work_dir) if p.startswith('best_') and p.endswith('.pth'))
    if best:
        return osp.join(work_dir, best[-1])
    latest = find_latest_checkpoint(work_dir)
    if latest is None:
        raise RuntimeError(f'training in {work_dir} finished without writing a checkpoint')
    return latest

"""Run mmengine trainings in-process for pipeline stages (classifier, SAM tuning)."""
import os
import os.path as osp
from typing import Optional

from mmengine.config import Config
from mmengine.runner import Runner, find_latest_checkpoint

from epsam.engine.config_utils import ensure_nan_guard_hook, ensure_safe_checkpoint_hook


def load_stage_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Read a stage's mmengine config and apply its overrides."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'stage config {path!r} does not exist')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(dict(cfg_options))
    return cfg


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
    cfg = ensure_nan_guard_hook(ensure_safe_checkpoint_hook(cfg.copy()))
    cfg.work_dir = work_dir
    cfg.experiment_name = name  # mmengine appends its own timestamp
    cfg.resume = find_latest_checkpoint(work_dir) is not None
    cfg.load_from = None
    runner = Runner.from_cfg(cfg)
    runner.train()
    best = sorted(p for p in os.listdir(work_dir) if p.startswith('best_') and p.endswith('.pth'))
    if best:
        return osp.join(work_dir, best[-1])
    latest = find_latest_checkpoint(work_dir)
    if latest is None:
        raise RuntimeError(f'training in {work_dir} finished without writing a checkpoint')
    return latest

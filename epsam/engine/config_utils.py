"""Shared set-up of mmengine configs, launchers and devices for epsam's command-line tools."""
import argparse
import os
import os.path as osp
from typing import Optional, Sequence, Tuple

import torch
from mmengine.config import Config

from epsam.utils.cli import ToolError

from .atomic_backend import ATOMIC_BACKEND

SAFE_CHECKPOINT_HOOK = 'WeightsOnlyCheckpointHook'
NAN_GUARD_HOOK = 'NaNGuardHook'
TRAIN_TIME_HOOK = 'TrainTimeHook'
#: ``--launcher`` choices of every tool (mmengine's).
LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


def load_tool_config(config: str, cfg_options: Optional[dict] = None,
                     checkpoint: Optional[str] = None) -> Config:
    """A tool's config with ``--cfg-options`` merged in.

    Args:
        config: The config file.
        cfg_options: Overrides from ``--cfg-options`` (or ``None``).
        checkpoint: A checkpoint the tool will read, checked to exist too.

    Raises:
        ToolError: The config or the checkpoint file does not exist (the
            message names it).
    """
    for path, what in ((config, 'config'), (checkpoint, 'checkpoint')):
        if path is not None and not osp.isfile(path):
            raise ToolError(f'{path}: {what} file not found; check the path')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def _hook_types(hooks: Sequence[dict]) -> set:
    return {str(h.get('type', '')).split('.')[-1] for h in hooks}


def ensure_safe_checkpoint_hook(cfg: Config) -> Config:
    """Make checkpoints safe to load and safe to interrupt.

    Adds :class:`WeightsOnlyCheckpointHook` to ``cfg.custom_hooks`` if absent
    (without it, mmengine's checkpoints cannot be loaded with
    ``torch.load(weights_only=True)``, which is how epsam, and torch >= 2.6 by
    default, loads them), and writes local checkpoints atomically.
    """
    hooks = list(cfg.get('custom_hooks', None) or [])
    if SAFE_CHECKPOINT_HOOK not in _hook_types(hooks):
        hooks.append(dict(type=SAFE_CHECKPOINT_HOOK))
    cfg.custom_hooks = hooks
    checkpoint_hook = (cfg.get('default_hooks', None) or {}).get('checkpoint', None)
    if (checkpoint_hook and checkpoint_hook.get('backend_args') is None
            and checkpoint_hook.get('file_client_args') is None
            and checkpoint_hook.get('out_dir') is None):
        # Local checkpoints are written atomically (epsam.engine.atomic_backend).
        checkpoint_hook['backend_args'] = dict(backend=ATOMIC_BACKEND)
    return cfg


def _ensure_custom_hook(cfg: Config, hook_type: str) -> Config:
    hooks = list(cfg.get('custom_hooks', None) or [])
    if hook_type not in _hook_types(hooks):
        hooks.append(dict(type=hook_type))
    cfg.custom_hooks = hooks
    return cfg


def ensure_nan_guard_hook(cfg: Config) -> Config:
    """Add :class:`NaNGuardHook` to ``cfg.custom_hooks`` if absent.

    Training then stops at the first NaN/inf loss, naming the step and the
    loss terms, and no checkpoint is saved after it.
    """
    return _ensure_custom_hook(cfg, NAN_GUARD_HOOK)


def ensure_training_hooks(cfg: Config) -> Config:
    """The hooks every epsam training gets: safe checkpoints, NaN guard, train time.

    :class:`TrainTimeHook` sums the training time over ``--resume`` runs.
    """
    cfg = ensure_nan_guard_hook(ensure_safe_checkpoint_hook(cfg))
    return _ensure_custom_hook(cfg, TRAIN_TIME_HOOK)


def default_dist_backend() -> str:
    """``nccl`` when a GPU is available, else ``gloo`` (CPU ranks)."""
    return 'nccl' if torch.cuda.is_available() else 'gloo'


def apply_launcher(cfg: Config, launcher: str) -> Config:
    """Set ``cfg.launcher`` and a distributed backend that fits the machine."""
    cfg.launcher = launcher
    if launcher != 'none':
        env_cfg = cfg.setdefault('env_cfg', {})
        dist_cfg = env_cfg.setdefault('dist_cfg', {})
        if not torch.cuda.is_available():
            if dist_cfg.get('backend', 'nccl') == 'nccl':
                dist_cfg['backend'] = default_dist_backend()
            # mmengine passes device_ids=[LOCAL_RANK] to DDP, which DDP refuses
            # for CPU modules; an explicit None in the wrapper config wins.
            wrapper = cfg.get('model_wrapper_cfg', None) or dict(
                type='MMDistributedDataParallel',
                find_unused_parameters=cfg.get('find_unused_parameters', False))
            if wrapper.get('type') == 'MMDistributedDataParallel':
                wrapper.setdefault('device_ids', None)
            cfg.model_wrapper_cfg = wrapper
    return cfg


def init_cpu_distributed(launcher: str) -> None:
    """Start a gloo process group for ``torchrun`` ranks on a machine without GPUs.

    mmengine 0.10.7's ``init_dist`` calls ``torch.cuda.set_device`` whatever
    the backend, which fails on CPU-only machines; when the group is already
    initialised, the runner skips its own set-up.
    """
    import torch.distributed as dist
    if launcher != 'pytorch' or torch.cuda.is_available() or dist.is_initialized():
        return
    dist.init_process_group(backend='gloo')


def init_distributed(launcher: str) -> Tuple[int, int]:
    """Start this process's group for ``launcher``; return ``(rank, world_size)``.

    For tools that shard items over ranks themselves (CAMs, WSI tiles, the
    pipeline): ``'none'`` is one process; on GPUs mmengine's ``init_dist``
    (``pytorch``, ``slurm``, ``mpi``; NCCL); on CPUs ``pytorch`` (torchrun)
    gets a gloo group. mmengine's Slurm and MPI set-up pick a CUDA device, so
    those launchers need GPUs.
    """
    if launcher not in LAUNCHERS:
        raise ValueError(f'--launcher {launcher!r}: choose one of {", ".join(LAUNCHERS)}')
    if launcher == 'none':
        return 0, 1
    import torch.distributed as dist
    if not dist.is_initialized():
        if torch.cuda.is_available():
            from mmengine.dist import init_dist
            init_dist(launcher, backend='nccl')
        elif launcher == 'pytorch':
            init_cpu_distributed(launcher)
        else:
            raise ValueError(f'--launcher {launcher} needs GPUs (mmengine sets a CUDA device '
                             'per rank); on CPUs run the ranks with torchrun and '
                             '--launcher pytorch')
    return dist.get_rank(), dist.get_world_size()


def default_device(device: Optional[str] = None) -> str:
    """``device`` if given, else this rank's GPU (``cuda:LOCAL_RANK``) if any, else the CPU."""
    if device:
        return device
    if torch.cuda.is_available():
        return f"cuda:{os.environ.get('LOCAL_RANK', 0)}"
    return 'cpu'


def enable_amp(cfg: Config) -> Config:
    """Switch the optimiser wrapper to mixed precision, as mmseg's ``--amp``."""
    optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if optim_wrapper == 'AmpOptimWrapper':
        return cfg
    if optim_wrapper != 'OptimWrapper':
        raise ValueError(f'--amp is only supported with OptimWrapper, got {optim_wrapper}')
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.loss_scale = 'dynamic'
    return cfg


def resolve_work_dir(cfg: Config, work_dir: Optional[str], config_path: str) -> Config:
    """``--work-dir`` > ``cfg.work_dir`` > ``./work_dirs/{config name}``."""
    import os.path as osp
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])
    return cfg


def add_launch_arguments(parser) -> None:
    """``--cfg-options``, ``--launcher`` and ``--local-rank``, as mmseg's tools take them."""
    from mmengine.config import DictAction
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, key=value pairs, e.g. '
        'train_cfg.max_epochs=2 "model.backbone.depth=18"')
    add_launcher_arguments(parser)


def add_launcher_arguments(parser) -> None:
    """``--launcher`` (one set for every tool) and ``--local-rank``."""
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none',
                        help='job launcher: none (one process), pytorch (torchrun), slurm, mpi')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help=argparse.SUPPRESS)


def add_device_argument(parser) -> None:
    """``--device`` (one meaning for every tool; see :func:`default_device`)."""
    parser.add_argument('--device', default=None,
                        help='cpu, cuda or cuda:N (default: the local GPU when there is one, '
                        'else cpu)')


def export_local_rank(args) -> None:
    """Set ``LOCAL_RANK`` from ``--local-rank`` when the launcher did not."""
    import os
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))

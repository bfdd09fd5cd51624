"""The pipeline's processes: which rank this is, sharding items, barriers and merges.

Under ``tools/run_pipeline.py --launcher pytorch|slurm|mpi`` every rank runs
the same stage sequence. Trainings run under DDP (mmengine); CAMs,
pseudo-labels and evaluation share their fixed batches round-robin (rank
``r`` of ``w`` takes batches ``r, r + w, ...``), so every item is computed
exactly as in one process; rank 0 alone takes the work-dir lock, checks the
fingerprints, merges, writes reports and marks stages done, and the barriers
of :class:`PipelineRanks` keep every rank behind an unfinished stage. The
ranks must share the work dir's file system (one node, or NFS/Lustre).
"""
import pickle
from dataclasses import dataclass
from typing import Any, Callable, List, Sequence, TypeVar

from epsam.engine.config_utils import init_distributed

T = TypeVar('T')

__all__ = ['PipelineRanks', 'shard_batches']


def shard_batches(items: Sequence[T], batch_size: int, rank: int, world_size: int) -> List[T]:
    """This rank's items: batches ``rank::world_size`` of ``batch_size`` items, flattened.

    The batches are those of one process with the same ``batch_size``, so a
    batched encoder sees the same images together whatever ``world_size``.

    Args:
        items: Every item, in the same order on every rank.
        batch_size: Items per batch (at least 1).
        rank: This process's index.
        world_size: Number of processes.
    """
    size = max(1, int(batch_size))
    batches = [items[i:i + size] for i in range(0, len(items), size)]
    return [item for batch in batches[rank::world_size] for item in batch]


def _shippable(error: BaseException) -> BaseException:
    """``error`` if it survives pickling (to be raised on the other ranks), else a RuntimeError."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:  # noqa: BLE001 - any unpicklable exception is replaced
        return RuntimeError(f'{type(error).__name__}: {error}')


@dataclass
class PipelineRanks:
    """This process's place among the pipeline's processes.

    Args:
        launcher: ``'none'`` (one process), ``'pytorch'``, ``'slurm'`` or ``'mpi'``.
        rank: This process's index.
        world_size: Number of processes.
    """

    launcher: str = 'none'
    rank: int = 0
    world_size: int = 1

    @classmethod
    def start(cls, launcher: str = 'none') -> 'PipelineRanks':
        """Join (or start) the launcher's process group (:func:`init_distributed`)."""
        rank, world_size = init_distributed(launcher)
        return cls(launcher, rank, world_size)

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        """Wait for every rank (nothing in one process)."""
        if self.distributed:
            import torch.distributed as dist
            dist.barrier()

    def gather(self, value: Any) -> List[Any]:
        """Every rank's ``value``, in rank order (``[value]`` in one process)."""
        if not self.distributed:
            return [value]
        import torch.distributed as dist
        values: List[Any] = [None] * self.world_size
        dist.all_gather_object(values, value)
        return values

    def shard(self, items: Sequence[T], batch_size: int) -> List[T]:
        """This rank's items (:func:`shard_batches`)."""
        return shard_batches(items, batch_size, self.rank, self.world_size)

    def on_main(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on rank 0 only; its error (if any) is raised on every rank.

        The other ranks wait, then get ``None``; so a refused lock or a stale
        stage stops every rank with rank 0's message instead of leaving them
        at the next barrier.
        """
        if not self.distributed:
            return fn()
        import torch.distributed as dist
        result, failure = None, [None]
        if self.is_main:
            try:
                result = fn()
            except BaseException as err:  # noqa: BLE001 - shipped, then re-raised
                failure = [_shippable(err)]
                dist.broadcast_object_list(failure, src=0)
                raise
        dist.broadcast_object_list(failure, src=0)
        if failure[0] is not None:
            raise failure[0]
        return result

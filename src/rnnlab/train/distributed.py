"""Data-parallel training under torchrun: the process group, who writes, agreed decisions, batch shards.

`torchrun --nproc_per_node N -m rnnlab train CONFIG.yaml` (or `rnnlab train CONFIG.yaml --nproc N`, which
runs that command) starts N copies of `rnnlab train`; each finds RANK / WORLD_SIZE / LOCAL_RANK in its
environment, `init()` joins them into one process group (gloo on the CPU, NCCL on GPUs, one GPU per
LOCAL_RANK), and the Trainer wraps its model in `DistributedDataParallel`. Outside torchrun every helper
here is a no-op for one process (rank 0 of 1), so the Trainer's code is the same either way.

The rules the Trainer follows (see docs/distributed.md):
- every optimizer step reads one *global* batch (the config's batch size): each rank trains on its
  contiguous slice of it (`shard`), and the gradients are averaged weighted by each rank's share of the
  tokens, so N processes take the same steps as one process reading the whole batch;
- rank 0 alone writes the run directory (lock, run.yaml, metrics.jsonl, checkpoints, plots) and evaluates;
  the metrics it computes are sent to the other ranks, so early stopping and the lr schedule agree;
- a decision to stop (time budget, a signal, a callback) is taken by any rank and agreed by all (`any_rank`).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from typing import Any

import torch
import torch.distributed as dist

from rnnlab.errors import UserError

__all__ = [
    "DistributedError",
    "Filler",
    "all_gather_objects",
    "any_rank",
    "barrier",
    "broadcast_object",
    "destroy",
    "init",
    "is_distributed",
    "is_main",
    "launched",
    "local_rank",
    "rank",
    "shard",
    "shard_bounds",
    "slice_batch",
    "sum_tensor",
    "world_size",
]

#: Seconds a rank waits for the rendezvous, and for any collective (a peer evaluating, or gone): then one
#: line instead of a hang. Override with the environment variable RNNLAB_DIST_TIMEOUT (seconds).
DEFAULT_TIMEOUT = 1800.0


class DistributedError(UserError):
    """The processes of a distributed run cannot reach or have lost each other."""


def launched() -> bool:
    """True in a process started by torchrun (WORLD_SIZE and RANK set)."""
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


def is_distributed() -> bool:
    """True once `init` joined a process group of more than one process (or of one, under torchrun)."""
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_main() -> bool:
    """Rank 0 (or the only process): the one that writes files and evaluates."""
    return rank() == 0


def timeout_seconds() -> float:
    raw = os.environ.get("RNNLAB_DIST_TIMEOUT")
    if raw is None:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise DistributedError(f"RNNLAB_DIST_TIMEOUT must be a positive number of seconds, got {raw!r}")
    return value


def init(device: str = "auto") -> torch.device | None:
    """Join the process group torchrun describes in the environment; returns this rank's device (None when
    not launched by torchrun: nothing is done). `device` is trainer.device: "auto"/"cuda" use NCCL and GPU
    LOCAL_RANK, "cpu" gloo. An unreachable rendezvous is a DistributedError after RNNLAB_DIST_TIMEOUT s."""
    if not launched():
        return None
    if is_distributed():
        return _device_of(device)
    world = int(os.environ["WORLD_SIZE"])
    where = f"{os.environ.get('MASTER_ADDR', '?')}:{os.environ.get('MASTER_PORT', '?')}"
    target = _device_of(device)
    backend = "nccl" if target.type == "cuda" else "gloo"
    if target.type == "cuda":
        torch.cuda.set_device(target)
    seconds = timeout_seconds()
    try:
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=seconds))
        if backend == "gloo":  # the store answers before every peer is there: wait for all of them now
            dist.barrier()
    except (RuntimeError, TimeoutError, ValueError) as error:  # DistStoreError / DistNetworkError included
        raise DistributedError(
            f"rank {os.environ.get('RANK')} of {world} could not reach the rendezvous at {where} within "
            f"{seconds:g} s ({_first_line(error)}); check MASTER_ADDR/MASTER_PORT (torchrun --rdzv-endpoint) "
            "and that every node was started"
        ) from None
    return target


def _device_of(device: str) -> torch.device:
    if device == "cpu" or (device == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise DistributedError(f"trainer.device={device!r} but no CUDA GPU is available; use device=cpu")
    count = torch.cuda.device_count()
    if local_rank() >= count:
        raise DistributedError(f"LOCAL_RANK {local_rank()} but this node has {count} GPU(s): start at most "
                               f"{count} processes per node")  # fmt: skip
    return torch.device("cuda", local_rank())


def destroy() -> None:
    """Leave the process group (at the end of a run; safe to call when none was joined)."""
    if is_distributed():
        dist.destroy_process_group()


def _first_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return (text[:200] + "...") if len(text) > 200 else text or type(error).__name__


# ----------------------------------------------------------------------------------------- collectives
def _collective_device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def sum_tensor(values: torch.Tensor) -> torch.Tensor:
    """The element-wise sum of `values` over all ranks (a float64 copy; `values` itself is untouched)."""
    if not is_distributed():
        return values.double()
    total = values.detach().to(_collective_device(), torch.float64)
    dist.all_reduce(total)
    return total.cpu()


def any_rank(flags: Sequence[float]) -> list[float]:
    """Element-wise maximum of `flags` over all ranks: a stop wanted by one rank is taken by all."""
    if not is_distributed():
        return list(flags)
    values = torch.tensor(list(flags), dtype=torch.float64, device=_collective_device())
    dist.all_reduce(values, op=dist.ReduceOp.MAX)
    return values.cpu().tolist()


def broadcast_object(value: Any) -> Any:
    """Rank 0's `value` on every rank (picklable objects)."""
    if not is_distributed():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_gather_objects(value: Any) -> list[Any]:
    """[rank 0's value, rank 1's, ...] on every rank."""
    if not is_distributed():
        return [value]
    boxes: list[Any] = [None] * world_size()
    dist.all_gather_object(boxes, value)
    return boxes


# ------------------------------------------------------------------------------------------- sharding
class Filler:
    """A rank's part of a global batch with fewer items than ranks (an epoch's last, short batch): the first
    item, for a forward and backward that DDP needs from every rank, weighted 0 (no tokens) by the Trainer."""

    def __init__(self, batch: Any) -> None:
        self.batch = batch


def shard_bounds(size: int, rank_: int, world: int) -> tuple[int, int]:
    """[start, stop) of rank `rank_`'s contiguous slice of `size` items (sizes differ by at most one)."""
    return rank_ * size // world, (rank_ + 1) * size // world


def slice_batch(batch: Any, rank_: int, world: int, dim: int = 0) -> Any:
    """Rank `rank_`'s slice of a batch: every tensor inside (tuples, lists, dicts, namedtuples) cut along
    `dim` where its length there is the batch's size (the first tensor's); anything else kept whole."""
    size = _batch_size(batch, dim)
    if size is None:
        raise DistributedError(f"cannot split a batch of {type(batch).__name__} between processes: it holds no "
                               "tensor; give the task a shard_batch(batches, index, rank, world) method")  # fmt: skip
    start, stop = shard_bounds(size, rank_, world)
    if start == stop:  # fewer items than ranks: this rank computes on the first one, weighted 0
        return Filler(slice_batch(batch, 0, size, dim))

    def cut(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return value.narrow(dim, start, stop - start) if value.dim() > dim and value.shape[dim] == size else value
        if isinstance(value, dict):
            return {key: cut(item) for key, item in value.items()}
        if isinstance(value, tuple) and hasattr(value, "_fields"):
            return type(value)(*(cut(item) for item in value))
        if isinstance(value, (list, tuple)):
            return type(value)(cut(item) for item in value)
        return value

    return cut(batch)


def _batch_size(batch: Any, dim: int) -> int | None:
    if isinstance(batch, torch.Tensor):
        return batch.shape[dim] if batch.dim() > dim else None
    items = batch.values() if isinstance(batch, dict) else batch if isinstance(batch, (list, tuple)) else ()
    for item in items:
        size = _batch_size(item, dim)
        if size is not None:
            return size
    return None


def shard(task: Any, batches: Sequence[Any], index: int, rank_: int, world: int) -> Any:
    """Rank `rank_`'s part of global batch `index` of `batches` (one epoch's `task.train_batches`).

    In order of preference: the task's own `shard_batch(batches, index, rank, world)` (the language model
    cuts its parallel streams); a sequence's `shard(index, rank, world)` (`EpochBatches` cuts its list of
    examples before encoding them); else the encoded batch's tensors cut along their first dimension.
    """
    custom = getattr(task, "shard_batch", None)
    if callable(custom):
        return custom(batches, index, rank_, world)
    own = getattr(batches, "shard", None)
    if callable(own):
        return own(index, rank_, world)
    return slice_batch(batches[index], rank_, world)

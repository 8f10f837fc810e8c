"""Helpers for resumable batch sources: deterministic per-epoch shuffling and device moves.

The Trainer resumes at an exact batch index, so `task.train_batches(epoch)` must return the same sequence
every time it is called with the same epoch: derive any shuffling from (seed, epoch), never from the
global RNG (whose state at epoch start a resumed run does not have).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import torch

__all__ = ["shuffled_indices", "EpochBatches", "DrawnBatches", "move_to"]

T = TypeVar("T")


def shuffled_indices(n: int, seed: int, epoch: int) -> list[int]:
    """A permutation of range(n) that depends only on (seed, epoch)."""
    generator = torch.Generator().manual_seed((int(seed) * 1_000_003 + int(epoch)) % (2**63))
    return torch.randperm(n, generator=generator).tolist()


class EpochBatches(Sequence, Generic[T]):
    """A sequence view of `items` in a fixed order, optionally built lazily with `make(item)` per batch.

    EpochBatches(batches, shuffled_indices(len(batches), seed, epoch)) is a typical `train_batches` result.
    """

    def __init__(self, items: Sequence[Any], order: Sequence[int] | None = None, make: Callable[[Any], T] | None = None):
        self.items = items
        self.order = list(range(len(items))) if order is None else list(order)
        self.make = make

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, index: int) -> T:  # type: ignore[override]
        item = self.items[self.order[index]]
        return self.make(item) if self.make is not None else item

    def shard(self, index: int, rank: int, world: int) -> T:
        """Rank `rank`'s contiguous part of batch `index` for data-parallel training (of `world` processes):
        with `make`, a batch given as a list of examples is cut before it is encoded; else the batch's tensors
        are cut along their first dimension (`rnnlab.train.distributed.slice_batch`)."""
        from rnnlab.train.distributed import Filler, shard_bounds, slice_batch

        item = self.items[self.order[index]]
        if self.make is not None and isinstance(item, (list, tuple, range)) and not isinstance(item[0] if item else None, torch.Tensor):
            start, stop = shard_bounds(len(item), rank, world)
            if start == stop:  # fewer examples than ranks (an epoch's last batch): the first, weighted 0
                return Filler(self.make(item[:1]))
            return self.make(item[start:stop])
        return slice_batch(self[index], rank, world)


class DrawnBatches(Sequence, Generic[T]):
    """`length` batches drawn one after the other by `draw(generator)` from one generator seeded with `seed`.

    For tasks whose data is generated on the fly (the adding problem, random text windows): batch i is the
    i-th draw, a pure function of (seed, i), so a resumed run gets the same batches. Reading in order costs
    one draw per batch; reading out of order (a resume) replays the draws from the start.
    """

    def __init__(self, draw: Callable[[torch.Generator], T], length: int, seed: int) -> None:
        self.draw, self.length, self.seed = draw, length, seed
        self._generator = torch.Generator().manual_seed(seed)
        self._next = 0  # index of the batch the generator draws next
        self._last: tuple[int, T] | None = None

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> T:  # type: ignore[override]
        if not -self.length <= index < self.length:
            raise IndexError(f"batch {index} of {self.length}")
        index %= self.length
        if self._last is not None and self._last[0] == index:
            return self._last[1]
        if index < self._next:
            self._generator = torch.Generator().manual_seed(self.seed)
            self._next = 0
        while self._next <= index:
            batch = self.draw(self._generator)
            self._next += 1
        self._last = (index, batch)
        return batch


def move_to(batch: Any, device: torch.device | str) -> Any:
    """Move every tensor inside a (nested) tuple/list/dict/dataclass-free batch to `device`."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {key: move_to(value, device) for key, value in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # namedtuple
        return type(batch)(*(move_to(value, device) for value in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to(value, device) for value in batch)
    return batch

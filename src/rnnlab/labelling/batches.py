"""Index batches for sentences of varied length: length-bucketed for training, length-sorted for evaluation."""

from __future__ import annotations

from collections.abc import Sequence

from rnnlab.train.batches import shuffled_indices

__all__ = ["bucketed_batches", "evenly", "sorted_batches"]


def bucketed_batches(lengths: Sequence[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Index batches of similar lengths (less padding), in an order fixed by (seed, epoch).

    Shuffle, sort within windows of 50 batches by length, cut into batches, shuffle the batches.
    """
    order = shuffled_indices(len(lengths), seed, epoch)
    window = batch_size * 50
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: lengths[i])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in shuffled_indices(len(batches), seed + 1, epoch)]


def sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Evaluation batches: indices sorted by length (callers restore the original order)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def evenly(items: Sequence, count: int | None) -> list:
    """At most `count` items spread evenly over `items` (corpora are often sorted by label or topic)."""
    if not count or count >= len(items):
        return list(items)
    return [items[i * len(items) // count] for i in range(count)]

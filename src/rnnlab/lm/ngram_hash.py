"""Hash indexes over the n-gram tables, for scoring many tokens at once: one memory access per probe.

`NGramTables` stores each order as a sorted int64 key array (`ngram_index`): `np.searchsorted` takes
log2(n) dependent steps per key and wants sorted queries, and the probability and backoff of a found
row then sit in two more arrays (two more cache misses). Scoring a corpus asks hundreds of thousands of
keys at once, so for that each order m >= 2 gets an `OrderIndex` (built once, lazily): an open-addressing
table with linear probing (as KenLM's probing tables), probed for all queries together, one numpy gather
per round; beside each slot sit ln p and ln b of its n-gram, read for all hits in one more gather.

- Keys chain through slots: an n-gram `h w` of order m has the key `handle(h) * V + id(w)`, where the
  handle of h is its id for m = 2 (unigrams are dense) and its slot in the order-(m-1) index above that.
  A probe's slot is thus the handle of the next order's context: no row numbers to look up in between.
- Home slot: Fibonacci hashing, the top bits of `key * 0x9E3779B97F4A7C15 mod 2^64`, over a power
  of two of slots, at least 2n (load 1/4 to 1/2). Memory: 24 bytes per slot (key, ln p, ln b),
  48-96 per n-gram, on top of the sorted tables' 24, and only once a large batch has been scored
  (PTB 5-gram: 168 MiB; keeping rows instead of ln p and ln b took half that and 1.2x the time).
- Built without a Python loop: keys sorted by home slot take the slots `pos_i = max(home_i,
  pos_{i-1} + 1)`, a running maximum (`pos_i = i + max_{j<=i}(home_j - j)`). Chains run past the last
  home slot instead of wrapping, and the table ends with an empty slot, so every probe chain stops.
- Exact: a slot holds the key itself, so a probe is a hit only on equality; no false positives.
"""

from __future__ import annotations

import numpy as np

_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio, odd
_EMPTY = -1  # keys are >= 0
LOAD_FACTOR = 0.5  # at most; slots are a power of two, so the load is 0.25-0.5 (PTB 5-gram: 0.25-0.35)
ROUNDS = 4  # probe rounds over the shrinking set of queries; the rest read their whole window at once


class KeyIndex:
    """Distinct keys >= 0 by hash: where each is stored, found for many keys at once.

    keys: (S,) int64, the key in each slot (-1 where empty); rows: (S,) int32 (int64 past 2^31 keys),
    the row of that key in the array given to the constructor (-1 where empty); reach: the longest
    displacement, so a probe chain stops after reach + 1 slots even inside a long run of occupied slots.
    """

    def __init__(self, keys: np.ndarray, load_factor: float | None = None):
        """keys: (n,) int64, distinct, >= 0; load_factor: at most n / slots (`LOAD_FACTOR` if None)."""
        n = len(keys)
        self.bits = max(int(n / (load_factor or LOAD_FACTOR)), 1).bit_length()  # 2^bits slots: > n / load
        self._shift = np.uint64(64 - self.bits)
        home = self._home(keys)
        by_home = np.argsort(home)  # any order among equal homes works
        ranks = np.arange(n, dtype=np.int64)
        position = ranks + np.maximum.accumulate(home[by_home] - ranks) if n else ranks
        self.reach = int((position - home[by_home]).max()) if n else 0
        end = int(position[-1]) + 1 if n else 0
        self.keys = np.full(max(1 << self.bits, end) + 1, _EMPTY, dtype=np.int64)  # + 1: ends every chain
        self.keys[position] = keys[by_home]
        self.rows = np.full(len(self.keys), -1, dtype=np.int32 if n < 2**31 else np.int64)
        self.rows[position] = by_home

    def slot_of_row(self) -> np.ndarray:
        """(n,) int64: the slot of each key given to the constructor."""
        occupied = np.flatnonzero(self.rows >= 0)
        slots = np.empty(len(occupied), dtype=np.int64)
        slots[self.rows.take(occupied)] = occupied
        return slots

    def _home(self, keys: np.ndarray) -> np.ndarray:
        """Home slot of each key, (Q,) int64 in [0, 2^bits): the top bits of the product."""
        mixed = keys.astype(np.int64, copy=False).view(np.uint64) * _MULTIPLIER  # wraps mod 2^64
        return (mixed >> self._shift).view(np.int64)

    def find(self, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The stored keys among `wanted` ((Q,) int64, >= 0): (found, slots), each (H,), in no
        particular order: wanted[found[i]] sits in slots[i].

        Each of `ROUNDS` rounds reads the next slot of every unresolved key; the few left then read the
        rest of their reach + 1 slots in one gather.
        """
        # integer `take` rather than `[]` indexing or boolean masks: several times faster here
        slot = self._home(wanted)
        stored = self.keys.take(slot)  # round 1, over all the keys
        hit = stored == wanted
        found_at = [np.flatnonzero(hit)]
        found_slot = [slot.take(found_at[0])]
        pending = np.flatnonzero((stored != _EMPTY) ^ hit)  # another key sits there: try the next slot
        wanted, slot = wanted.take(pending), slot.take(pending) + 1
        for _ in range(min(ROUNDS, self.reach + 1) - 1):
            if not len(pending):
                break
            stored = self.keys.take(slot)
            hit = stored == wanted
            found = np.flatnonzero(hit)
            found_at.append(pending.take(found))
            found_slot.append(slot.take(found))
            go_on = np.flatnonzero((stored != _EMPTY) ^ hit)
            pending, wanted, slot = pending.take(go_on), wanted.take(go_on), slot.take(go_on) + 1
        if len(pending) and self.reach + 1 > ROUNDS:  # the few left: all their remaining slots at once
            window = slot[:, None] + np.arange(self.reach + 1 - ROUNDS)  # (P, W)
            rows, columns = np.nonzero(
                self.keys.take(window, mode="clip") == wanted[:, None]
            )  # keys are unique
            found_at.append(pending.take(rows))
            found_slot.append(slot.take(rows) + columns)
        return np.concatenate(found_at), np.concatenate(found_slot)

    def nbytes(self) -> int:
        return int(self.keys.nbytes + self.rows.nbytes)


class OrderIndex(KeyIndex):
    """One order's n-grams by key (`handle(h) * V + id(w)`), with their ln p and ln b beside each slot.

    values: (S, 2) float64, ln p and ln b of the n-gram in each slot: read with the slot in one 16-byte
    gather instead of two through the rows (numpy takes 16-byte items as fast as 8-byte ones).
    """

    def __init__(self, keys: np.ndarray, logprob: np.ndarray, backoff: np.ndarray | None):
        """keys, logprob, backoff: (n,) each, in the sorted table's row order (backoff None: all 0)."""
        super().__init__(keys)
        self.row_slots: np.ndarray | None = self.slot_of_row()  # (n,) until the next order is built
        self.rows = np.zeros(0, dtype=np.int32)  # scoring reads `values`, not rows: 4 bytes a slot saved
        self.values = np.zeros((len(self.keys), 2))
        self.values[self.row_slots, 0] = logprob
        if backoff is not None:
            self.values[self.row_slots, 1] = backoff

    def probe(self, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(found, slots, ln p, ln b), each (H,): wanted[found[i]] is stored in slots[i] (see `find`)."""
        found, slots = self.find(wanted)
        values = self.values.take(slots, axis=0)  # (H, 2)
        return found, slots, values[:, 0], values[:, 1]

    def nbytes(self) -> int:
        return super().nbytes() + int(self.values.nbytes)


def build_indexes(
    vocab_size: int, keys: list[np.ndarray], logprob: list[np.ndarray], backoff: list[np.ndarray]
) -> list[OrderIndex]:
    """The index of every order m >= 2 (result[m-2]), from `NGramTables`' sorted arrays.

    Order m's index holds the keys `handle(h) * V + id(w)`: the handle of a context is its id for m = 2
    and its slot in the order-(m-1) index above that, so a probe's slot is the next order's handle.
    """
    indexes: list[OrderIndex] = []
    for m in range(2, len(keys) + 1):
        context_rows, words = np.divmod(keys[m - 1], vocab_size)
        handles = context_rows if m == 2 else indexes[-1].row_slots.take(context_rows)
        top = m == len(keys)
        indexes.append(
            OrderIndex(handles * vocab_size + words, logprob[m - 1], None if top else backoff[m - 1])
        )
        if m > 2:
            indexes[-2].row_slots = None  # only the next order's keys needed it
    if indexes:
        indexes[-1].row_slots = None
    return indexes

"""The stored form of an n-gram model: a trie of sorted int64 keys with log-probabilities and backoffs.

Order 1 is dense (row i = token id i). An n-gram `h w` of order m >= 2 has the key
`row_of(h, order m-1) * V + id(w)` (V = vocabulary size with `<s>`), so every table is a sorted int64
array, a lookup is one `np.searchsorted` per order, and all continuations of a context are one
contiguous slice `[row * V, (row + 1) * V)`. Scoring a large batch looks keys up through a hash index
of each table instead (`ngram_hash`: built once, exact, the same numbers), one probe round at a time
for all tokens together.

Each stored n-gram carries ln P(w | h) (the *full* probability, already interpolated) and, for orders
below N, ln b(h w), its backoff weight as a context. That is exactly ARPA's form, so for every
interpolated estimator probabilities follow KenLM's rule: take the longest stored n-gram ending in w,
add the backoffs of the longer contexts that are stored:

    ln P(w | h) = ln p(h_m w) + sum_{j >= m} ln b(h_j)   where h_m w is the longest match.

Add-k smoothing is the one estimator whose unseen words take the *uniform* distribution rather than the
lower order; `uniform_backoff` marks it: a seen context h gives unseen words b(h) / V_predictable.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rnnlab.lm.ngram_hash import OrderIndex, build_indexes
from rnnlab.lm.ngram_tokens import BOS_ID

#: scoring a batch of at least this many tokens builds (once) the hash indexes and probes them
HASH_MIN_TOKENS = 20_000


def find(keys: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Row of each query in the sorted `keys`, or -1. Negative queries are never found. Shapes (Q,)."""
    result = np.full(len(queries), -1, dtype=np.int64)
    if len(keys) == 0:
        return result
    asked = np.flatnonzero(queries >= 0)  # unseen contexts need no search
    if len(asked) == 0:
        return result
    wanted = queries[asked]
    order = np.argsort(wanted)  # sorted queries walk the table in order: cache friendly
    wanted = wanted[order]
    rows = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    hit = keys[rows] == wanted
    result[asked[order[hit]]] = rows[hit]
    return result


def _previous(values: np.ndarray, starts: np.ndarray, fill) -> np.ndarray:
    """values shifted one position later, (T,): out[t] = values[t-1], and `fill` at t = 0 and at every
    sentence start (nothing before `<s>` is its context)."""
    out = np.empty_like(values)
    out[0:1] = fill
    out[1:] = values[:-1]
    out[starts] = fill
    return out


@dataclass
class NGramTables:
    """keys[m-1], logprob[m-1], backoff[m-1] for order m (backoff only below the highest order).

    keys[0] is `arange(V)`; logprob is ln P (natural log, `-inf` for `<s>`, which is never predicted);
    backoff is ln b (0 for an n-gram that is not a context). For `uniform_backoff` models
    `is_context[m-1]` says which n-grams are contexts and `root_backoff` is ln b of the empty context.
    """

    vocab_size: int
    predictable_size: int
    keys: list[np.ndarray]
    logprob: list[np.ndarray]
    backoff: list[np.ndarray]
    uniform_backoff: bool = False
    is_context: list[np.ndarray] | None = None
    root_backoff: float = 0.0
    _hash_indexes: list[OrderIndex] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def order(self) -> int:
        return len(self.keys)

    def sizes(self) -> list[int]:
        """Number of stored n-grams per order (unigrams include `<s>` and `<unk>`, as in ARPA files)."""
        return [len(k) for k in self.keys]

    def nbytes(self) -> int:
        arrays = self.keys[1:] + self.logprob + self.backoff + (self.is_context or [])
        return int(sum(a.nbytes for a in arrays))

    # -----------------------------------------------------------------------------------------------
    # lookups

    def lookup(self, grams: np.ndarray) -> list[np.ndarray]:
        """Rows of every prefix of each gram: result[j] = row of grams[:, :j+1] at order j+1, or -1.

        grams: (Q, L) token ids with L <= order.
        """
        rows = [grams[:, 0].astype(np.int64)]
        for j in range(1, grams.shape[1]):
            parent = rows[-1]
            queries = np.where(parent >= 0, parent * self.vocab_size + grams[:, j], -1)
            rows.append(find(self.keys[j], queries))
        return rows

    def lookup_one(self, gram: Sequence[int]) -> int:
        """Row of one n-gram (a sequence of ids) in its order's table, or -1."""
        if not gram:
            return -1
        return int(self.lookup(np.asarray(gram, dtype=np.int64)[None, :])[-1][0])

    # -----------------------------------------------------------------------------------------------
    # scoring

    def build_hash_indexes(self) -> float:
        """Build the hash indexes batched scoring uses (`ngram_hash`); returns the seconds it took.

        Scoring a batch of at least `HASH_MIN_TOKENS` tokens builds them on first use and keeps them.
        """
        start = time.perf_counter()
        if self._hash_indexes is None:
            self._hash_indexes = build_indexes(self.vocab_size, self.keys, self.logprob, self.backoff)
        return time.perf_counter() - start

    def hash_index_bytes(self) -> int:
        """Bytes held by the hash indexes (0 until batched scoring or `build_hash_indexes` made them)."""
        return sum(index.nbytes() for index in self._hash_indexes or [])

    def _probe_sorted(self, order: int, handles: np.ndarray, words: np.ndarray) -> tuple[np.ndarray, ...]:
        """Which `(context, word)` n-grams of this order are stored, by binary search in the sorted keys
        `row(h) * V + id(w)`: handles (Q,) are context rows. Returns (found, handles, ln p, ln b), each
        (H,): query found[i] is stored in row handles[i] (its handle as a context)."""
        rows = find(self.keys[order - 1], handles * self.vocab_size + words)
        found = np.flatnonzero(rows >= 0)
        rows = rows.take(found)
        backoff = self.backoff[order - 1].take(rows) if order < self.order else np.zeros(len(rows))
        return found, rows, self.logprob[order - 1].take(rows), backoff

    def _probe_hashed(self, order: int, handles: np.ndarray, words: np.ndarray) -> tuple[np.ndarray, ...]:
        """`_probe_sorted` through the order's hash index (`ngram_hash`): handles are hash slots."""
        return self._hash_indexes[order - 2].probe(handles * self.vocab_size + words)

    def stream_logprobs(self, stream: np.ndarray, starts: np.ndarray, lookup: str = "auto") -> np.ndarray:
        """ln P(stream[t] | the words before it in its sentence) for every t; NaN where stream[t] is `<s>`.

        stream: (T,) ids of sentences laid end to end, each `<s> ... </s>`; starts: (S,) positions of
        the `<s>`. Returns (T,) float64. KenLM's backoff rule, vectorised over all tokens (see the module
        docstring): with m* the order of the longest stored n-gram ending at t,

            ln P(w_t | h) = ln p(m*-gram) + sum over context lengths j >= m* of ln b(length-j context),

        a context that is not stored adding nothing. The loop runs over orders, never over tokens:
        order m looks up `(length m-1 context, w_t)` for every t whose context is stored, all at once,
        having added that context's backoff; a hit replaces the probability and drops the backoffs
        gathered so far (they belong to contexts shorter than the match). The m-grams found are the
        stored contexts of order m+1, one position later. Nothing reaches back across `<s>`.

        Lookups (`lookup`): "hash" probes the hash indexes (`ngram_hash`, built on first use), "search"
        binary-searches the sorted tables, "auto" hashes batches of `HASH_MIN_TOKENS` or more and any
        batch once the indexes exist. The same numbers either way.
        """
        stream = stream.astype(np.int64, copy=False)
        if self.uniform_backoff:
            result = self._uniform_logprobs(*self.stream_rows(stream, starts))
            result[starts] = np.nan
            return result
        if lookup == "auto":
            lookup = "hash" if self._hash_indexes is not None or len(stream) >= HASH_MIN_TOKENS else "search"
        if lookup == "hash":
            self.build_hash_indexes()
        probe = self._probe_hashed if lookup == "hash" else self._probe_sorted
        result = self.logprob[0].take(stream)  # (T,) unigrams are dense: every id is stored
        is_start = np.zeros(len(stream) + 1, dtype=bool)  # (T + 1,) <s>, and past the end
        is_start[starts] = is_start[-1] = True
        continues = ~is_start[1:]  # (T,) the next position is in the same sentence
        # the queries of order m: positions (Q,) whose length-(m-1) context is stored, and its handle
        # (`take` / `put` rather than `[]` with index arrays: several times faster on these sizes)
        positions = np.flatnonzero(~is_start[:-1])
        handles = stream.take(positions - 1)
        backoffs = np.zeros(len(stream))  # (T,) sum of ln b over the contexts longer than the match so far
        if self.order > 1:
            backoffs.put(positions, self.backoff[0].take(handles))
        for m in range(2, self.order + 1):
            found, found_handles, logprob, backoff = probe(m, handles, stream.take(positions))  # (H,) each
            at = positions.take(found)  # (H,) where the m-gram is stored
            result.put(at, logprob)
            backoffs.put(at, 0.0)  # the backoffs so far belong to shorter contexts than this match
            if m < self.order:  # the m-gram ending at t is the length-m context of t + 1: its backoff
                keep = np.flatnonzero(continues.take(at))
                positions, handles = at.take(keep) + 1, found_handles.take(keep)
                backoffs.put(positions, backoffs.take(positions) + backoff.take(keep))
        result += backoffs
        result[starts] = np.nan
        return result

    def stream_rows(self, stream: np.ndarray, starts: np.ndarray) -> tuple[list[np.ndarray], list]:
        """The rows of the stored n-grams ending at every position of a stream, all orders (binary search).

        stream, starts: as in `stream_logprobs`. Returns (ends, contexts), lists of (T,) int64 rows, -1
        where not stored: ends[m-1][t] = row of the m-gram ending at t (ends[0] is the stream itself), and
        contexts[j][t] = ends[j-1][t-1], the length-j context of t (contexts[0] is None).
        """
        ends, contexts = [stream.astype(np.int64, copy=False)], [None]
        for m in range(2, self.order + 1):
            context = _previous(ends[-1], starts, -1)
            contexts.append(context)
            ends.append(
                find(self.keys[m - 1], np.where(context >= 0, context * self.vocab_size + stream, -1))
            )
        return ends, contexts

    def _uniform_logprobs(self, ends: list[np.ndarray], contexts: list) -> np.ndarray:
        total = len(ends[0])
        longest_context = np.zeros(total, dtype=np.int64)  # length of the longest seen context
        weight = np.full(total, self.root_backoff)
        for j in range(1, self.order):
            context = contexts[j]
            seen = context >= 0
            seen[seen] = self.is_context[j - 1][context[seen]]
            longest_context[seen] = j
            weight[seen] = self.backoff[j - 1][context[seen]]
        result = weight - np.log(self.predictable_size)
        for m in range(1, self.order + 1):
            hit = (longest_context == m - 1) & (ends[m - 1] >= 0)
            result[hit] = self.logprob[m - 1][ends[m - 1][hit]]
        return result

    def distribution(self, context: Sequence[int]) -> np.ndarray:
        """P(w | context) for every token id w, shape (V,); entry `<s>` is 0. Sums to 1.

        `context` is the token ids before the prediction (starting with `<s>` at a sentence start);
        only its last order-1 ids matter.
        """
        context = list(context)[max(0, len(context) - (self.order - 1)) :] if self.order > 1 else []
        if BOS_ID in context:  # nothing reaches back across a sentence start
            context = context[len(context) - 1 - context[::-1].index(BOS_ID) :]
        probs = np.exp(self.logprob[0])
        seen_length, seen_row = 0, -1
        for j in range(1, len(context) + 1):
            row = self.lookup_one(context[-j:])
            if row < 0:
                continue
            if self.uniform_backoff:
                if self.is_context[j - 1][row]:
                    seen_length, seen_row = j, row
                continue
            probs *= np.exp(self.backoff[j - 1][row])
            self._overwrite_continuations(probs, j + 1, row)
        if self.uniform_backoff and seen_length > 0:
            probs[:] = np.exp(self.backoff[seen_length - 1][seen_row]) / self.predictable_size
            self._overwrite_continuations(probs, seen_length + 1, seen_row)
        probs[BOS_ID] = 0.0
        return probs

    def _overwrite_continuations(self, probs: np.ndarray, order: int, context_row: int) -> None:
        """Set probs[w] = P(w | context) for the stored n-grams `context w` of this order."""
        keys = self.keys[order - 1]
        low, high = np.searchsorted(
            keys, [context_row * self.vocab_size, (context_row + 1) * self.vocab_size]
        )
        probs[keys[low:high] % self.vocab_size] = np.exp(self.logprob[order - 1][low:high])

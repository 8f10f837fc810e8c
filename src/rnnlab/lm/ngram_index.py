"""The stored form of an n-gram model: a trie of sorted int64 keys with log-probabilities and backoffs.

Order 1 is dense (row i = token id i). An n-gram `h w` of order m >= 2 has the key
`row_of(h, order m-1) * V + id(w)` (V = vocabulary size with `<s>`), so every table is a sorted int64
array, a lookup is one `np.searchsorted` per order, and all continuations of a context are one
contiguous slice `[row * V, (row + 1) * V)`. No hashing, no collisions.

Each stored n-gram carries ln P(w | h) (the *full* probability, already interpolated) and, for orders
below N, ln b(h w), its backoff weight as a context. That is exactly ARPA's form, so for every
interpolated estimator probabilities follow KenLM's rule: take the longest stored n-gram ending in w,
add the backoffs of the longer contexts that are stored:

    ln P(w | h) = ln p(h_m w) + sum_{j >= m} ln b(h_j)   where h_m w is the longest match.

Add-k smoothing is the one estimator whose unseen words take the *uniform* distribution rather than the
lower order; `uniform_backoff` marks it: a seen context h gives unseen words b(h) / V_predictable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rnnlab.lm.ngram_tokens import BOS_ID


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

    def stream_logprobs(self, stream: np.ndarray, position: np.ndarray) -> np.ndarray:
        """ln P(stream[t] | the words before it in its sentence) for every t; NaN where stream[t] is `<s>`.

        stream: (T,) ids of sentences laid end to end, each `<s> ... </s>`; position: (T,) index of each
        token inside its sentence (0 for `<s>`). Vectorised over all tokens: one searchsorted per order.
        """
        n = self.order
        total = len(stream)
        ends = [stream.astype(np.int64)]  # ends[m-1][t]: row of the m-gram ending at t, or -1
        contexts = [None]  # contexts[j][t]: row of the j-gram ending at t-1 (the length-j context)
        for m in range(2, n + 1):
            previous = np.full(total, -1, dtype=np.int64)
            previous[1:] = ends[-1][:-1]
            previous[position < m - 1] = -1  # do not reach back across the sentence start
            contexts.append(previous)
            queries = np.where(previous >= 0, previous * self.vocab_size + stream, -1)
            ends.append(find(self.keys[m - 1], queries))
        if self.uniform_backoff:
            result = self._uniform_logprobs(ends, contexts)
        else:
            result = self.logprob[0][ends[0]].copy()
            longest = np.ones(total, dtype=np.int64)
            for m in range(2, n + 1):
                hit = ends[m - 1] >= 0
                result[hit] = self.logprob[m - 1][ends[m - 1][hit]]
                longest[hit] = m
            for j in range(1, n):
                context = contexts[j]
                use = (context >= 0) & (longest <= j)
                result[use] += self.backoff[j - 1][context[use]]
        result[stream == BOS_ID] = np.nan
        return result

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

"""Counting n-grams the way KenLM's lmplz does: stream the corpus in chunks, count, merge.

Only the highest order is counted from the text. Each sentence is padded on the left with N-1 `<s>`
(`<s> <s> w1 ... wk </s>` for N = 3) and every window of N tokens that ends on a real token is one row.
Every occurrence of a lower-order n-gram is the suffix of exactly one such window, so all lower orders
(and Kneser-Ney's continuation counts) follow from the table of windows sorted in *suffix order*
(last word first): n-grams with the same last m words are contiguous.

Memory is bounded by the number of *distinct* windows, not by the corpus: each chunk of
`chunk_tokens` tokens is counted on its own (sorted unique rows + counts) and merged into the running
table, so a corpus of several GB streams through; the distinct-window table itself must fit in memory
(KenLM can also spill that table to disk; we do not).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import repeat

import numpy as np

from rnnlab.errors import ConfigError, DataError
from rnnlab.lm.ngram_tokens import BOS_ID, EOS_ID, SPECIALS, UNK_ID, NGramVocab, tokenize


@dataclass
class OrderCounts:
    """The distinct n-grams of one order m, in suffix order (sorted by last word, then the one before...).

    grams: (K, m) int64 token ids; raw: (K,) occurrences; adjusted: (K,) KenLM adjusted counts
    (the raw count for the highest order and for n-grams starting with `<s>`, otherwise the number of
    distinct words seen immediately to the left: Kneser-Ney's continuation count);
    suffix: (K,) row of `grams[:, 1:]` in the table of order m - 1 (for m = 1: zeros).
    """

    grams: np.ndarray
    raw: np.ndarray
    adjusted: np.ndarray
    suffix: np.ndarray


@dataclass
class NGramCounts:
    """Counts of every order 1..N over one corpus. `orders[m - 1]` holds the m-grams.

    The unigram table is dense: row i is word id i, for every word of the vocabulary (`<s>` and an
    unseen `<unk>` with count 0).
    """

    vocab: NGramVocab
    orders: list[OrderCounts]
    token_count: int  # words, without </s>
    sentence_count: int

    @property
    def order(self) -> int:
        return len(self.orders)


# ---------------------------------------------------------------------------------------------------
# Sorting rows of ids


def _pack_limbs(rows: np.ndarray) -> list[np.ndarray]:
    """Pack the columns of `rows` (non-negative ids) into as few int64 as fit, last column first.

    Returned least significant first, ready for `np.lexsort`, so sorting gives suffix order.
    """
    bits = max(1, int(rows.max()).bit_length()) if rows.size else 1
    per_limb = max(1, 63 // bits)
    columns = [rows[:, j].astype(np.int64) for j in range(rows.shape[1] - 1, -1, -1)]
    limbs = []
    for i in range(0, len(columns), per_limb):
        group = columns[i : i + per_limb]
        limb = group[0].copy()
        for column in group[1:]:
            limb <<= bits
            limb |= column
        limbs.append(limb)
    return limbs[::-1]


def unique_rows(rows: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows in suffix order with summed counts. rows: (M, N) ints; counts: (M,) int64."""
    if len(rows) == 0:
        return rows.reshape(0, rows.shape[1]).astype(np.int64), counts.astype(np.int64)
    limbs = _pack_limbs(rows)
    order = np.lexsort(limbs) if len(limbs) > 1 else np.argsort(limbs[0])
    rows = rows[order]
    counts = counts[order]
    new = np.ones(len(rows), dtype=bool)
    new[1:] = (rows[1:] != rows[:-1]).any(axis=1)
    starts = np.flatnonzero(new)
    return rows[starts].astype(np.int64), np.add.reduceat(counts.astype(np.int64), starts)


# ---------------------------------------------------------------------------------------------------
# Streaming

_SEPARATOR = "\x00"  # put between the lines of a word-level chunk; whitespace-free, so one token


def padded_windows(ids: np.ndarray, lengths: np.ndarray, order: int) -> np.ndarray:
    """All N-token windows ending on a real token of `<s>^(N-1) w1 .. wk </s>`, shape (M, N).

    ids: (T,) the words of the sentences laid end to end; lengths: (S,) words per sentence.
    """
    padded_lengths = lengths + order  # N-1 <s>, the words, </s>
    total = int(padded_lengths.sum())
    stream = np.full(total, BOS_ID, dtype=np.int64)
    first = np.cumsum(padded_lengths) - padded_lengths + order - 1  # where each sentence's words start
    offsets = np.arange(len(ids)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    stream[np.repeat(first, lengths) + offsets] = ids
    stream[first + lengths] = EOS_ID
    windows = np.lib.stride_tricks.sliding_window_view(stream, order)
    return windows[stream[order - 1 :] != BOS_ID]


class _Accumulator:
    """Sorted distinct rows + counts, merging in chunk tables when enough are pending."""

    def __init__(self, order: int):
        self.rows = np.zeros((0, order), dtype=np.int64)
        self.counts = np.zeros(0, dtype=np.int64)
        self.pending: list[tuple[np.ndarray, np.ndarray]] = []
        self.pending_rows = 0

    def add(self, rows: np.ndarray, counts: np.ndarray) -> None:
        self.pending.append(unique_rows(rows, counts))
        self.pending_rows += len(self.pending[-1][0])
        if self.pending_rows >= max(len(self.rows), 1 << 20):  # amortised: merge cost stays linear-ish
            self.merge()

    def merge(self) -> None:
        if not self.pending:
            return
        if len(self.rows) == 0 and len(self.pending) == 1:  # already sorted and distinct
            (self.rows, self.counts), self.pending, self.pending_rows = self.pending[0], [], 0
            return
        rows = np.concatenate([self.rows] + [r for r, _ in self.pending])
        counts = np.concatenate([self.counts] + [c for _, c in self.pending])
        self.rows, self.counts = unique_rows(rows, counts)
        self.pending, self.pending_rows = [], 0


def iter_sentences(source: Iterable[str] | Callable[[], Iterable[str]]) -> Iterator[str]:
    lines = source() if callable(source) else source
    yield from lines


def count_windows(
    source: Iterable[str] | Callable[[], Iterable[str]],
    order: int,
    level: str,
    chunk_tokens: int = 1_000_000,
) -> tuple[list[str], np.ndarray, np.ndarray, int, int]:
    """One streaming pass: (id->token list, distinct windows (M, N), their counts, tokens, sentences).

    Ids are handed out on first sight; the specials keep ids 0, 1, 2.
    """
    if order < 1:
        raise ConfigError(f"n-gram order must be >= 1, got {order}")
    if chunk_tokens < 1:
        raise ConfigError(f"chunk_tokens must be >= 1, got {chunk_tokens}")
    ids: dict[str, int] = {token: i for i, token in enumerate(SPECIALS)}
    accumulator = _Accumulator(order)
    chunk: list[str] = []
    chunk_size = token_count = sentence_count = 0
    # word level: a chunk's lines are split in one call, with a separator token between lines
    per_line = level != "word"
    chars_per_token = 6  # how a word-level chunk's size is judged before splitting it

    def flush() -> None:
        nonlocal token_count, sentence_count
        if per_line:
            sentences = [tokenize(line, level) for line in chunk]
            flat = [token for tokens in sentences for token in tokens]
            lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
        else:
            flat = f" {_SEPARATOR} ".join(chunk).split()
        for token in dict.fromkeys(flat):  # new words get ids in order of first appearance
            if token not in ids and token != _SEPARATOR:
                ids[token] = len(ids)
        encoded = np.fromiter(map(ids.get, flat, repeat(-1)), dtype=np.int64, count=len(flat))
        if not per_line:
            separator = encoded < 0
            sentence = np.cumsum(separator)
            words = ~separator & (encoded != BOS_ID) & (encoded != EOS_ID)  # literal <s>, </s>: spaces
            lengths = np.bincount(sentence[words], minlength=len(chunk))
            encoded = encoded[words]
        lengths = lengths[lengths > 0]  # blank lines are not sentences
        token_count += len(encoded)
        sentence_count += len(lengths)
        if len(lengths):
            windows = padded_windows(encoded, lengths, order)
            accumulator.add(windows, np.ones(len(windows), dtype=np.int64))

    for line in iter_sentences(source):
        chunk.append(line)
        chunk_size += len(line) // chars_per_token + 1 if not per_line else len(line) + 1
        if chunk_size >= chunk_tokens:
            flush()
            chunk, chunk_size = [], 0
    if chunk:
        flush()
    accumulator.merge()
    if sentence_count == 0:
        raise DataError("the corpus is empty: no line has a token to count")
    return list(ids), accumulator.rows, accumulator.counts, token_count, sentence_count


# ---------------------------------------------------------------------------------------------------
# From windows to all orders


def _renumber(
    names: list[str], rows: np.ndarray, counts: np.ndarray, min_count: int
) -> tuple[NGramVocab, np.ndarray, np.ndarray]:
    """Final ids: specials, then words in order of first appearance; rarer than `min_count`: `<unk>`."""
    if min_count <= 1:
        return NGramVocab(names), rows, counts
    # Every token occurrence is the last word of exactly one window.
    word_counts = np.bincount(rows[:, -1], weights=counts, minlength=len(names)).astype(np.int64)
    words = [i for i in range(len(SPECIALS), len(names)) if word_counts[i] >= min_count]
    mapping = np.full(len(names), UNK_ID, dtype=np.int64)
    mapping[BOS_ID], mapping[EOS_ID] = BOS_ID, EOS_ID
    mapping[words] = np.arange(len(SPECIALS), len(SPECIALS) + len(words))
    vocab = NGramVocab(list(SPECIALS) + [names[i] for i in words])
    rows, counts = unique_rows(mapping[rows], counts)
    return vocab, rows, counts


def _trailing_equal(rows: np.ndarray) -> np.ndarray:
    """same[i] = how many last columns row i shares with row i-1 (0 for row 0). Shape (M,)."""
    same = np.zeros(len(rows), dtype=np.int64)
    if len(rows) > 1:
        equal = rows[1:, ::-1] == rows[:-1, ::-1]
        same[1:] = np.cumprod(equal, axis=1).sum(axis=1)
    return same


def orders_from_windows(rows: np.ndarray, counts: np.ndarray, vocab_size: int) -> list[OrderCounts]:
    """Every order's n-grams, raw and adjusted counts, from the suffix-sorted window table."""
    order = rows.shape[1]
    same = _trailing_equal(rows)
    starts = [None] + [np.flatnonzero(same < m) for m in range(1, order + 1)]  # starts[m]: group starts
    result = []
    valid_rank_below = None  # level m-1: group number -> row in its OrderCounts (or -1)
    for m in range(1, order + 1):
        first = starts[m]
        grams = rows[first, order - m :]
        raw = np.add.reduceat(counts, first)
        if m < order:
            is_start = np.zeros(len(rows), dtype=np.int64)
            is_start[starts[m + 1]] = 1
            left_extensions = np.add.reduceat(is_start, first)
            adjusted = np.where(grams[:, 0] == BOS_ID, raw, left_extensions)
        else:
            adjusted = raw.copy()
        valid = (grams[:, 1:] != BOS_ID).all(axis=1)  # `<s>` only as the first word
        if m == 1:
            suffix = np.zeros(len(first), dtype=np.int64)
        elif m == 2:
            suffix = grams[:, -1].copy()  # unigram rows are word ids
        else:
            is_start = np.zeros(len(rows), dtype=np.int64)
            is_start[starts[m - 1]] = 1
            suffix = valid_rank_below[np.cumsum(is_start)[first] - 1]
        valid_rank_below = np.where(valid, np.cumsum(valid) - 1, -1)
        grams, raw, adjusted, suffix = grams[valid], raw[valid], adjusted[valid], suffix[valid]
        if m == 1:  # dense unigram table: one row per vocabulary id
            dense_raw = np.zeros(vocab_size, dtype=np.int64)
            dense_adjusted = np.zeros(vocab_size, dtype=np.int64)
            dense_raw[grams[:, 0]] = raw
            dense_adjusted[grams[:, 0]] = adjusted
            grams = np.arange(vocab_size, dtype=np.int64)[:, None]
            raw, adjusted = dense_raw, dense_adjusted
            suffix = np.zeros(vocab_size, dtype=np.int64)
        result.append(OrderCounts(grams, raw, adjusted, suffix))
    return result


def count_ngrams(
    source: Iterable[str] | Callable[[], Iterable[str]],
    order: int,
    level: str = "word",
    min_count: int = 1,
    chunk_tokens: int = 1_000_000,
) -> NGramCounts:
    """Count all n-grams of orders 1..`order` of a corpus (an iterable of lines, or a callable giving one).

    Words seen fewer than `min_count` times become `<unk>` (so `<unk>` gets real counts).
    """
    if min_count < 1:
        raise ConfigError(f"min_count must be >= 1, got {min_count}")
    names, rows, counts, tokens, sentences = count_windows(source, order, level, chunk_tokens)
    vocab, rows, counts = _renumber(names, rows, counts, min_count)
    return NGramCounts(vocab, orders_from_windows(rows, counts, len(vocab)), tokens, sentences)

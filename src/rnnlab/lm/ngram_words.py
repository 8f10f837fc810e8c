"""Word-level tokenisation and vocabulary lookup of a whole batch at once, on its UTF-8 bytes.

`str.split` plus one dict lookup per word costs about as much as scoring the words, so large batches
take this path: the sentences are joined and encoded once, and everything else is numpy over words.

- Words: maximal runs of non-whitespace bytes. Within ASCII these are exactly the characters that
  `str.split` splits on; the bytes of a multi-byte UTF-8 character are all >= 0x80, so they never
  look like ASCII whitespace. Text holding any *other* Unicode whitespace (NBSP, U+3000, ...) is
  left to `str.split` (`encode` returns None).
- A word is read 8 bytes at a time: chunk k is the little-endian uint64 of its bytes 8k..8k+7, the
  bytes past its end masked to 0. Most words are one chunk, so this is a few array operations per
  word, not per byte.
- Lookup: a hash folded over the chunks (and the length) is looked up among the vocabulary's hashes
  (a `ngram_hash.KeyIndex`); then every candidate's length and chunks are compared with the word's, so
  a hash collision can never map a word to the wrong id (a vocabulary whose own hashes collide is not
  used here: `WordLookup.usable`).

Shapes: B bytes, N words, S sentences, V vocabulary entries.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided

from rnnlab.lm.ngram_hash import KeyIndex

_SPACE = np.zeros(256, dtype=bool)  # the ASCII characters str.split() splits on
_SPACE[[0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x20]] = True
#: the non-ASCII characters str.split() splits on (str.isspace(); a test checks the list)
OTHER_SPACE = "\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_OTHER_SPACE = re.compile(f"[{OTHER_SPACE}]")
_MULTIPLIER = np.uint64(0xBF58476D1CE4E5B9)  # SplitMix64's: odd


def _chunks_at(data: bytes) -> np.ndarray:
    """(B,) uint64 view: item i is the 8 bytes data[i:i+8] (little-endian, zeros past the end)."""
    padded = np.frombuffer(data + bytes(8), dtype="<u8", count=1) if data else np.zeros(1, dtype="<u8")
    return as_strided(padded, shape=(len(data),), strides=(1,), writeable=False)


_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(9)], dtype=np.uint64)  # the low n bytes of a chunk


def _chunk(chunks: np.ndarray, starts: np.ndarray, remaining: np.ndarray) -> np.ndarray:
    """(N,) uint64: the next 8 bytes at each start, those past the word's end (remaining bytes) zeroed."""
    return chunks.take(starts) & _MASKS.take(np.minimum(remaining, 8))


def _fold(state: np.ndarray, chunk: np.ndarray) -> np.ndarray:
    """Mix one chunk into each word's hash, (N,) uint64 -> (N,); for a fixed state a bijection of chunk.
    (Multiplying only carries bits upwards; `KeyIndex` takes its slot from the top bits.)"""
    return (state ^ chunk) * _MULTIPLIER


@dataclass
class EncodedWords:
    """A batch's words: ids (N,) int64 (-1: not in the vocabulary), lengths (S,) words per sentence, and
    where each word lies in `data` (the batch's UTF-8 bytes): starts, ends (N,)."""

    ids: np.ndarray
    lengths: np.ndarray
    data: bytes
    starts: np.ndarray
    ends: np.ndarray

    def text(self, i: int) -> str:
        """Word i as it was written."""
        return self.data[self.starts[i] : self.ends[i]].decode("utf-8")


class WordLookup:
    """The vocabulary's words by hash (see the module docstring); `encode` maps a batch of sentences."""

    def __init__(self, tokens: Sequence[str]):
        encoded = [token.encode("utf-8") for token in tokens]
        self._chunks = _chunks_at(b"".join(encoded))
        self._sizes = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))  # (V,) bytes
        self._offsets = np.cumsum(self._sizes) - self._sizes  # (V,)
        hashes, self._first = self._hash(self._chunks, self._offsets, self._sizes)  # (V,) each
        self.usable = len(np.unique(hashes)) == len(hashes)
        self._index = KeyIndex(hashes if self.usable else np.zeros(0, dtype=np.int64), load_factor=0.25)
        self._id_at = self._index.rows.astype(np.int64)  # (slots,) the id of the word in each slot

    @staticmethod
    def _hash(chunks: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(hash, first chunk) of each word (sizes[i] >= 0 bytes at starts[i]), each (N,): the hash folded
        over its length and chunks, as int64 >= 0."""
        seeds = _fold(np.arange(sizes.max(initial=0) + 1, dtype=np.uint64) << np.uint64(40), _MULTIPLIER)
        first = _chunk(chunks, starts, sizes)
        hashes = _fold(seeds.take(sizes), first)
        longer = np.flatnonzero(sizes > 8)
        for k in range(1, int(sizes.max(initial=0) + 7) // 8):  # the few words over 8 bytes
            longer = longer.take(np.flatnonzero(sizes.take(longer) > 8 * k))
            chunk = _chunk(chunks, starts.take(longer) + 8 * k, sizes.take(longer) - 8 * k)
            hashes.put(longer, _fold(hashes.take(longer), chunk))
        return (hashes >> np.uint64(1)).view(np.int64), first

    def encode(self, sentences: Sequence[str]) -> EncodedWords | None:
        """The words of every sentence and their ids; None if the text holds non-ASCII whitespace."""
        text = "\n".join(sentences)
        if text.isascii():
            sizes = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
        elif _OTHER_SPACE.search(text):
            return None
        else:
            sizes = np.fromiter(
                (len(s.encode("utf-8")) for s in sentences), dtype=np.int64, count=len(sentences)
            )
        raw = text.encode("utf-8")
        data = np.frombuffer(raw, dtype=np.uint8)  # (B,)
        space = np.concatenate(([True], _SPACE.take(data), [True]))  # (B + 2,)
        edges = np.flatnonzero(space[1:] != space[:-1])  # (2N,) bool compare: 5x faster than int8 diff
        starts, ends = edges[0::2], edges[1::2]  # (N,) each: a word starts, ends, starts, ...
        sentence_starts = np.cumsum(sizes + 1) - (sizes + 1)  # (S,) byte where each sentence begins
        first_word = np.append(np.searchsorted(starts, sentence_starts), len(starts))  # (S + 1,)
        ids = self._lookup(_chunks_at(raw), starts, ends - starts)
        return EncodedWords(ids, np.diff(first_word), raw, starts, ends)

    def _lookup(self, chunks: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
        """(N,) id of each word, -1 where it is not in the vocabulary: hash, then compare every chunk."""
        hashes, first = self._hash(chunks, starts, sizes)
        found, slots = self._index.find(hashes)
        candidate = self._id_at.take(slots)  # (H,) the one word each can be
        same = (self._sizes.take(candidate) == sizes.take(found)) & (
            self._first.take(candidate) == first.take(found)
        )
        same = np.flatnonzero(same)
        at, candidate = found.take(same), candidate.take(same)  # (H,) word, its candidate
        for k in range(1, int(sizes.max(initial=0) + 7) // 8):  # the rest of the words over 8 bytes
            left = sizes.take(at) - 8 * k
            longer = np.flatnonzero(left > 0)
            same = _chunk(chunks, starts.take(at.take(longer)) + 8 * k, left.take(longer)) == _chunk(
                self._chunks, self._offsets.take(candidate.take(longer)) + 8 * k, left.take(longer)
            )
            differs = longer.take(np.flatnonzero(~same))
            if len(differs):
                keep = np.setdiff1d(np.arange(len(at)), differs, assume_unique=True)
                at, candidate = at.take(keep), candidate.take(keep)
        ids = np.full(len(starts), -1, dtype=np.int64)
        ids.put(at, candidate)
        return ids

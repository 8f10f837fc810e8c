"""Tokens and vocabulary of n-gram models: word or character level, `<s>`, `</s>`, `<unk>`.

An n-gram model sees one sentence (one line) at a time, as KenLM does: `<s> w1 ... wk </s>`.

- word level: the line split on whitespace (the corpus is already tokenised, e.g. PTB);
- char level: every character is a token (Chinese without spaces works); a run of whitespace becomes
  one `▁` token (U+2581, as in sentencepiece) because ARPA files separate tokens with spaces.

Literal `<s>` / `</s>` in the text are treated as whitespace (as KenLM's lmplz does); a literal `<unk>` is
the unknown-word token itself (PTB writes its out-of-vocabulary words that way).
Ids are fixed for the specials: 0 `<unk>`, 1 `<s>`, 2 `</s>` (KenLM's order), then words as first seen.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

UNK, BOS, EOS = "<unk>", "<s>", "</s>"
UNK_ID, BOS_ID, EOS_ID = 0, 1, 2
SPECIALS = (UNK, BOS, EOS)
SPACE = "\u2581"  # stands for whitespace at character level
LEVELS = ("word", "char")
_WHITESPACE = re.compile(r"\s+")


def tokenize(line: str, level: str) -> list[str]:
    """Tokens of one sentence (without `<s>` / `</s>`)."""
    if level == "word":
        if "<s>" not in line and "</s>" not in line:  # the common case, without a per-token test
            return line.split()
        return [token for token in line.split() if token != BOS and token != EOS]
    if level == "char":
        return list(_WHITESPACE.sub(SPACE, line.strip()))
    raise ValueError(f"expected level 'word' or 'char', got {level!r}")


def detokenize(tokens: Iterable[str], level: str) -> str:
    """Inverse of `tokenize` (up to whitespace normalisation)."""
    if level == "word":
        return " ".join(tokens)
    return "".join(tokens).replace(SPACE, " ")


class NGramVocab:
    """Token <-> id map with the three specials first. `len(vocab)` counts `<s>` too."""

    def __init__(self, tokens: Sequence[str]):
        if tuple(tokens[:3]) != SPECIALS:
            raise ValueError(f"vocabulary must start with {SPECIALS}, got {tuple(tokens[:3])}")
        self.tokens = list(tokens)
        self.index = {token: i for i, token in enumerate(self.tokens)}
        if len(self.index) != len(self.tokens):
            raise ValueError("vocabulary has duplicate tokens")

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: object) -> bool:
        return token in self.index

    @property
    def predictable_size(self) -> int:
        """Tokens a model can predict: everything but `<s>` (KenLM's uniform distribution size)."""
        return len(self.tokens) - 1

    def encode(self, tokens: Sequence[str]) -> tuple[np.ndarray, list[str]]:
        """Ids (int64, shape (len(tokens),)) with unknown tokens as `<unk>`, and the unknown tokens."""
        get = self.index.get
        ids = np.fromiter((get(token, UNK_ID) for token in tokens), dtype=np.int64, count=len(tokens))
        unknown = [token for token, i in zip(tokens, ids) if i == UNK_ID and token != UNK]
        return ids, unknown

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.tokens[int(i)] for i in ids]

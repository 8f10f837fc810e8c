"""Word and character vocabularies of taggers and sentence classifiers, and how they encode token lists.

Shapes are batch-first: words (N, L), chars (N, L, C), mask (N, L) bool (True on real tokens).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from rnnlab.data.vocab import PAD_ID, Vocabulary
from rnnlab.errors import DataError

__all__ = ["MAX_WORD_CHARS", "TokenVocab"]

MAX_WORD_CHARS = 20  # longer words keep their first 10 and last 10 characters (prefix + suffix)


@dataclass
class TokenVocab:
    """Word and character vocabularies (built on the training split) and how words are normalised."""

    words: Vocabulary
    chars: Vocabulary
    lowercase: bool = True

    @classmethod
    def build(cls, sentences: Sequence[Sequence[str]], lowercase: bool, min_freq: int, max_size: int | None):
        words = Vocabulary.build(
            ([w.lower() if lowercase else w for w in s] for s in sentences), min_freq, max_size
        )
        chars = Vocabulary.build((c for s in sentences for w in s for c in w), min_freq=1)
        return cls(words, chars, lowercase)

    def to_json(self) -> dict:
        return {"words": self.words.tokens, "chars": self.chars.tokens, "lowercase": self.lowercase}

    @classmethod
    def from_json(cls, data: dict) -> TokenVocab:
        return cls(Vocabulary(data["words"]), Vocabulary(data["chars"]), bool(data["lowercase"]))

    def encode(self, sentences: Sequence[Sequence[str]], with_chars: bool = True) -> dict[str, Tensor]:
        """Padded ids: {"words" (N, L), "chars" (N, L, C) if with_chars, "mask" (N, L)}."""
        for sentence in sentences:
            if not sentence:
                raise DataError("empty sentence: expected at least one token")
        length = max(len(s) for s in sentences)
        # Build padded Python lists and convert once: far faster than filling tensors row by row.
        rows = []
        for sentence in sentences:
            keys = [w.lower() for w in sentence] if self.lowercase else list(sentence)
            rows.append(self.words.encode(keys) + [PAD_ID] * (length - len(sentence)))
        words = torch.tensor(rows, dtype=torch.long)
        mask = words.new_tensor([[True] * len(s) + [False] * (length - len(s)) for s in sentences], dtype=torch.bool)
        batch = {"words": words, "mask": mask}
        if with_chars:
            clipped = [[_clip(w) for w in s] for s in sentences]
            width = max(len(w) for s in clipped for w in s)
            empty = [PAD_ID] * width
            chars = [
                [self.chars.encode(w) + [PAD_ID] * (width - len(w)) for w in s] + [empty] * (length - len(s))
                for s in clipped
            ]
            batch["chars"] = torch.tensor(chars, dtype=torch.long)
        return batch


def _clip(word: str) -> str:
    return word if len(word) <= MAX_WORD_CHARS else word[:10] + word[-10:]

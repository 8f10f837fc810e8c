"""Pieces shared by the tagger and the sentence classifier: token encoding, length-bucketed batches, and
reading a saved model directory. (Their models and `WordCharEmbedding` live in `rnnlab.nn`.)

Shapes are batch-first: words (N, L), chars (N, L, C), mask (N, L) bool.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from rnnlab.data.vocab import PAD_ID, Vocabulary
from rnnlab.errors import CheckpointError, ConfigError, DataError
from rnnlab.train.batches import shuffled_indices
from rnnlab.verbs import Artifact

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


def labelled_splits(data, kind: str, read: Callable[[str], list], what: str) -> dict[str, list]:
    """train / valid / test examples of a `data:` section: a built-in dataset of `kind`, or files read with
    `read(path)` (no valid file: every 10th training example is held out); `data.max_train_sentences` caps
    the training set evenly. `what` names the file format in the error for a missing data.train."""
    if data.dataset:
        from rnnlab.data.registry import get_dataset, load_dataset

        splits = load_dataset(get_dataset(data.dataset, kind=kind).name)
    else:
        if not data.train:
            raise ConfigError(f"data: expected data.dataset or data.train ({what}), got neither")
        splits = {"train": read(data.train)}
        for name in ("valid", "test"):
            path = getattr(data, name)
            splits[name] = read(path) if path else []
        if not splits["valid"]:
            train = splits["train"]
            splits["valid"], splits["train"] = train[9::10], [x for i, x in enumerate(train) if i % 10 != 9]
    if data.max_train_sentences:
        splits["train"] = evenly(splits["train"], data.max_train_sentences)
    return splits


def read_model_dir(path: str | Path, task: str):
    """Load a saved model directory of `task` (a run directory: its best/); `rnnlab.train.load_model_dir`."""
    from rnnlab.train.checkpoint import load_model_dir

    return load_model_dir(path, task)


CONFUSION_PNG = "confusion.png"


def confusion_artifact(counts: list[list[int]], labels: Sequence[str]) -> Artifact:
    """The row-normalised confusion plot as a PNG artifact, rendered in memory: evaluating writes no file
    (`rnnlab eval --out DIR` writes it, a server returns it)."""
    import io

    import matplotlib

    from rnnlab.tasks.labelling_metrics import plot_confusion

    buffer = io.BytesIO()
    with matplotlib.rc_context({"savefig.format": "png"}):  # a file object has no suffix to go by
        plot_confusion(counts, labels, buffer)
    return Artifact(media_type="image/png", data=buffer.getvalue(), name=CONFUSION_PNG)


def read_json_file(checkpoint, name: str) -> dict:
    data = checkpoint.read_json(name)
    if not isinstance(data, dict):
        raise CheckpointError(f"{checkpoint.path / name}: expected a JSON object")
    return data


def dump_json(data) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1)

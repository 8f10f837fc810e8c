"""Pieces shared by the tagger and the sentence classifier: token encoding, embeddings, the BiRNN
encoder, length-bucketed batches, and reading a saved model directory.

Shapes are batch-first: words (N, L), chars (N, L, C), mask (N, L) bool.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnlab.data.vocab import PAD_ID, UNK_ID, Vocabulary
from rnnlab.errors import CheckpointError, DataError
from rnnlab.tasks.registry import EvalRequest
from rnnlab.train.batches import shuffled_indices

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


def recurrent(kind: str, input_size: int, hidden_size: int, num_layers: int, dropout: float, bidirectional: bool):
    """A batch-first rnnlab.nn LSTM/GRU (torch.nn's contract; fused kernels on the standard path)."""
    from rnnlab.nn import make_recurrent

    if kind not in ("lstm", "gru"):
        raise ValueError(f"rnn: expected lstm or gru, got {kind!r}")
    return make_recurrent(kind, input_size, hidden_size, num_layers, batch_first=True, dropout=dropout,
                          bidirectional=bidirectional)  # fmt: skip


def run_packed(rnn: nn.Module, inputs: Tensor, lengths: Tensor) -> Tensor:
    """Run `rnn` over padded (N, L, H) inputs so the backward direction starts at each real end.

    Returns outputs (N, L, D*H) with zeros on padding.
    """
    packed = pack_padded_sequence(inputs, lengths.cpu(), batch_first=True, enforce_sorted=False)
    output, _ = rnn(packed)
    output, _ = pad_packed_sequence(output, batch_first=True, total_length=inputs.size(1))
    return output


class WordCharEmbedding(nn.Module):
    """Word embedding + a character BiRNN summary of each word (its last forward and backward states).

    The character part is what lets the model say something about words it never saw (suffixes,
    capitals, digits); `word_dropout` turns random training words into <unk> so the <unk> row learns too.
    Output (N, L, word_dim + 2 * char_hidden).
    """

    def __init__(
        self, num_words: int, word_dim: int, num_chars: int, char_dim: int, char_hidden: int,
        rnn: str = "lstm", word_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.words = nn.Embedding(num_words, word_dim, padding_idx=PAD_ID)
        self.use_chars = char_dim > 0 and char_hidden > 0
        if self.use_chars:
            self.chars = nn.Embedding(num_chars, char_dim, padding_idx=PAD_ID)
            self.char_rnn = recurrent(rnn, char_dim, char_hidden, 1, 0.0, bidirectional=True)
        self.word_dropout = word_dropout
        self.output_size = word_dim + (2 * char_hidden if self.use_chars else 0)

    def forward(self, words: Tensor, mask: Tensor, chars: Tensor | None = None) -> Tensor:
        if self.training and self.word_dropout > 0:
            drop = (torch.rand(words.shape, device=words.device) < self.word_dropout) & mask
            words = words.masked_fill(drop, UNK_ID)
        vectors = self.words(words)
        if not self.use_chars:
            return vectors
        if chars is None:
            raise ValueError("WordCharEmbedding: this model needs character ids (chars (N, L, C))")
        real = chars[mask]  # (W, C): only real words go through the character RNN
        lengths = (real != PAD_ID).sum(1).clamp_min(1)
        states = run_packed(self.char_rnn, self.chars(real), lengths)  # (W, C, 2h)
        half = states.size(2) // 2
        rows = torch.arange(real.size(0), device=real.device)
        summary = torch.cat([states[rows, lengths - 1, :half], states[:, 0, half:]], dim=1)
        char_vectors = vectors.new_zeros(*words.shape, summary.size(1))
        char_vectors[mask] = summary
        return torch.cat([vectors, char_vectors], dim=2)


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


def read_model_dir(path: str | Path, task: str):
    """Load a saved model directory of `task` (checks the task, verifies the files); a Checkpoint."""
    from rnnlab.train.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(_resolve(path))
    if checkpoint.config.get("task") != task:
        raise CheckpointError(
            f"{path}: expected a {task} model directory, found task {checkpoint.config.get('task')!r}"
        )
    return checkpoint


def _resolve(path: str | Path) -> Path:
    """Accept a run directory too: use its best/ (or last/) model when it has no config.json itself."""
    path = Path(path)
    if not (path / "config.json").is_file():
        for name in ("best", "last"):
            if (path / name / "config.json").is_file():
                return path / name
    return path


def save_confusion_png(counts: list[list[int]], labels: Sequence[str], model_path: str | Path,
                       request: EvalRequest) -> Path:
    """confusion-<split or data file>.png in the model directory, or in the current directory if that is
    read-only."""
    from rnnlab.tasks.labelling_metrics import plot_confusion
    from rnnlab.tasks.registry import resolve_model_dir

    name = f"confusion-{Path(request.data_file).stem if request.data_file else request.split}.png"
    image = resolve_model_dir(model_path) / name
    try:
        plot_confusion(counts, labels, str(image))
    except OSError:
        image = Path.cwd() / name
        plot_confusion(counts, labels, str(image))
    return image


def read_json_file(checkpoint, name: str) -> dict:
    data = checkpoint.read_json(name)
    if not isinstance(data, dict):
        raise CheckpointError(f"{checkpoint.path / name}: expected a JSON object")
    return data


def dump_json(data) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1)

"""The sequence tagger: one tag per token (POS, NER), a BiLSTM(-CRF).

    words + character BiRNN features -> stacked BiRNN -> per-token tag scores -> softmax or CRF

Shapes are batch-first: a batch is a dict with "words" (N, L), "chars" (N, L, C) when the model uses
character features, "mask" (N, L) bool (True on real tokens) and, for the loss, "tags" (N, L).
The task around it is `rnnlab.tasks.tagging` (training and evaluation: `rnnlab.labelling.tagger*`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from rnnlab.nn.cell_registry import make_recurrent
from rnnlab.nn.crf import CRF, bio_constraints
from rnnlab.nn.padded import run_rnn
from rnnlab.nn.word_char import WordCharEmbedding, check_word_char_config


@dataclass
class TaggerModelConfig:
    """Architecture of a tagger (the `model:` section of its config)."""

    rnn: str = "lstm"  # any registered cell (rnnlab.nn.cell_names()), for the word and the character RNN
    word_dim: int = 100
    char_dim: int = 30  # 0 turns the character features off
    char_hidden: int = 50
    hidden_size: int = 150  # per direction
    num_layers: int = 1
    dropout: float = 0.3
    word_dropout: float = 0.05
    output: Literal["crf", "softmax"] = "crf"
    lowercase: bool = True
    min_freq: int = 1
    max_vocab: int | None = 50000
    packed: bool = False  # true: pack the batches (the reference path); false: padded speed, same numbers
    execution: Literal["auto", "fused", "explicit", "compiled"] = "auto"  # the RNN's path (docs/layers.md)

    def __post_init__(self) -> None:
        check_word_char_config(self)


class BiRNNTagger(nn.Module):
    """Emissions from a stacked BiRNN over word+char embeddings; CRF or per-token softmax on top.

    Parameters: ``embed.*`` (`WordCharEmbedding`), ``rnn.*`` (the BiRNN), ``scores`` (T, 2H) and, with
    ``output="crf"``, ``crf.*`` (transition scores, with BIO/BIOES constraints when ``scheme`` says so).
    """

    def __init__(self, config: TaggerModelConfig, num_words: int, num_chars: int, tags: Sequence[str],
                 scheme: str) -> None:  # fmt: skip
        super().__init__()
        self.embed = WordCharEmbedding(
            num_words, config.word_dim, num_chars, config.char_dim, config.char_hidden, config.rnn,
            config.word_dropout, packed=config.packed,
        )  # fmt: skip
        self.dropout = nn.Dropout(config.dropout)
        self.rnn = make_recurrent(config.rnn, self.embed.output_size, config.hidden_size, config.num_layers,
                                  batch_first=True, dropout=config.dropout, bidirectional=True,
                                  path=config.execution)  # fmt: skip
        self.scores = nn.Linear(2 * config.hidden_size, len(tags))
        self.packed = config.packed
        self.crf = None
        if config.output == "crf":
            constraints = bio_constraints(list(tags)) if scheme in ("bio", "bioes") else (None, None, None)
            self.crf = CRF(len(tags), *constraints)

    def emissions(self, batch: dict[str, Tensor]) -> Tensor:
        """(N, L, T) per-token tag scores."""
        mask = batch["mask"]
        vectors = self.dropout(self.embed(batch["words"], mask, batch.get("chars")))  # (N, L, E)
        states = run_rnn(self.rnn, vectors, mask.sum(1), self.packed)  # (N, L, 2H), zeros on padding
        return self.scores(self.dropout(states))

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        """The training loss (`loss`): going through `forward` lets a wrapper (DDP, torch.compile) see it."""
        return self.loss(batch)

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        """Mean loss per token (a scalar): CRF negative log-likelihood or cross-entropy."""
        emissions = self.emissions(batch)
        mask = batch["mask"]
        if self.crf is not None:
            return self.crf(emissions, batch["tags"], mask, reduction="token_mean")
        return nn.functional.cross_entropy(emissions[mask], batch["tags"][mask])

    @torch.no_grad()
    def predict(self, batch: dict[str, Tensor]) -> Tensor:
        """(N, L) tag ids, -1 on padding (Viterbi over the whole batch at once with a CRF)."""
        emissions = self.emissions(batch)
        if self.crf is not None:
            return self.crf.decode(emissions, batch["mask"])[0]
        return emissions.argmax(2).masked_fill(~batch["mask"], -1)

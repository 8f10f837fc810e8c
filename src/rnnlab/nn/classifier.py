"""The sentence classifier (sequence to vector): BiRNN encoder -> pooling -> label scores.

    tokens -> word (+ character) embeddings -> stacked BiRNN -> last | mean | max | attention pooling -> linear

Shapes are batch-first: a batch is a dict with "words" (N, L), "mask" (N, L) bool (True on real tokens)
and "chars" (N, L, C) when the model uses character features. The machinery around it (training,
evaluation, pretrained-LM and classifier-to-classifier transfer) is the text-classification kit of
`rnnlab.labelling`; `rnnlab.tasks.classification` registers it as the `classifier` task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch import Tensor, nn

from rnnlab.nn.cell_registry import make_recurrent
from rnnlab.nn.padded import run_rnn
from rnnlab.nn.pooling import Pooling
from rnnlab.nn.word_char import WordCharEmbedding, check_word_char_config


@dataclass
class ClassifierModelConfig:
    """Architecture of a sentence classifier (the `model:` section of its config)."""

    rnn: str = "lstm"  # any registered cell (rnnlab.nn.cell_names())
    word_dim: int = 100
    char_dim: int = 0  # >0 adds character-RNN features per token
    char_hidden: int = 0
    hidden_size: int = 128
    num_layers: int = 1
    dropout: float = 0.5
    word_dropout: float = 0.0
    pooling: Literal["last", "mean", "max", "attention"] = "max"
    lowercase: bool = True
    min_freq: int = 1
    max_vocab: int | None = 30000
    # An rnnlab word-level LM directory: its vocabulary joins the training words, its embeddings (and its
    # first layer, when cell and size match) start the encoder; see rnnlab.labelling.pretrained_lm.
    pretrained_lm: str | None = None
    # A trained rnnlab classifier directory to start from (e.g. one trained on en-review-sentences): its
    # vocabulary and weights are reused, see rnnlab.labelling.transfer.
    init_from: str | None = None
    packed: bool = False  # true: pack the batches (the reference path); false: padded speed, same numbers
    execution: Literal["auto", "fused", "explicit", "compiled"] = "auto"  # the RNN's path (docs/layers.md)

    def __post_init__(self) -> None:
        check_word_char_config(self)


class BiRNNClassifier(nn.Module):
    """Logits (N, C) for a batch of token-id sentences.

    Parameters: ``embed.*`` (`WordCharEmbedding`), ``rnn.*`` (the BiRNN), ``pool.*`` (attention pooling
    only) and ``out`` (C, 2H).
    """

    def __init__(self, config: ClassifierModelConfig, num_words: int, num_chars: int, num_labels: int) -> None:
        super().__init__()
        self.embed = WordCharEmbedding(num_words, config.word_dim, num_chars, config.char_dim,
                                       config.char_hidden, config.rnn, config.word_dropout,
                                       packed=config.packed)  # fmt: skip
        self.dropout = nn.Dropout(config.dropout)
        self.rnn = make_recurrent(config.rnn, self.embed.output_size, config.hidden_size, config.num_layers,
                                  batch_first=True, dropout=config.dropout, bidirectional=True,
                                  path=config.execution)  # fmt: skip
        self.pool = Pooling(config.pooling, 2 * config.hidden_size, bidirectional=True)
        self.out = nn.Linear(2 * config.hidden_size, num_labels)
        self.packed = config.packed

    def forward(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor | None]:
        """(logits (N, C), attention weights (N, L) or None)."""
        mask = batch["mask"]
        vectors = self.dropout(self.embed(batch["words"], mask, batch.get("chars")))  # (N, L, E)
        states = run_rnn(self.rnn, vectors, mask.sum(1), self.packed)  # (N, L, 2H), zeros on padding
        pooled, weights = self.pool(states, mask)  # (N, 2H)
        return self.out(self.dropout(pooled)), weights

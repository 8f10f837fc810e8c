"""Sequence to vector: token ids -> embeddings -> stacked (bi)RNN -> pooling -> a linear head.

    ids (N, L) --Embedding--> (N, L, E) --RNN--> states (N, L, D*H) --pool over real tokens--> (N, D*H)
        --Dropout, Linear--> outputs (N, output_size)

The head is linear, so the same block is a regressor (output_size = number of targets, trained with MSE)
or a classifier (output_size = number of labels, trained with cross-entropy). Padding never leaks: the
RNN runs on the padded batch with each sequence reversed within its length for the backward direction
(`rnnlab.nn.padded`), so the backward direction starts at each sequence's real end; ``packed: true`` runs
the same numbers through packed sequences instead (slower on CPU; kept for comparison).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch import Tensor, nn

from rnnlab.config import MAX_LAYERS, require_fractions, require_sizes
from rnnlab.nn.cell_registry import check_cell_name, get_cell, make_recurrent
from rnnlab.nn.padded import run_rnn
from rnnlab.nn.pooling import Pooling


@dataclass
class SequenceToVectorConfig:
    """The `model:` section of a sequence-to-vector task."""

    cell: str = "gru"  # a registered cell name (rnnlab.nn): rnn, lstm, gru, ...
    embedding_size: int = 64
    hidden_size: int = 128
    num_layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.1
    pooling: Literal["last", "mean", "max", "attention"] = "mean"
    packed: bool = False  # true: pack the batches (the reference path); false: padded speed, same numbers
    execution: Literal["auto", "fused", "explicit", "compiled"] = "auto"  # the RNN's path (docs/layers.md)

    def __post_init__(self) -> None:
        check_cell_name(self.cell, "model.cell")
        get_cell(self.cell).check_path(self.execution, "model.execution")
        require_sizes(self, "embedding_size hidden_size")
        require_sizes(self, "num_layers", high=MAX_LAYERS)
        require_fractions(self, "dropout")


class SequenceToVector(nn.Module):
    """`forward(ids (N, L), mask (N, L) bool) -> (N, output_size)`; mask is True on real tokens."""

    def __init__(self, config: SequenceToVectorConfig, vocab_size: int, output_size: int, pad_id: int = 0) -> None:
        super().__init__()
        directions = 2 if config.bidirectional else 1
        self.embed = nn.Embedding(vocab_size, config.embedding_size, padding_idx=pad_id)
        self.rnn = make_recurrent(config.cell, config.embedding_size, config.hidden_size, config.num_layers,
                                  batch_first=True, dropout=config.dropout,
                                  bidirectional=config.bidirectional, path=config.execution)  # fmt: skip
        self.pool = Pooling(config.pooling, directions * config.hidden_size, config.bidirectional)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(directions * config.hidden_size, output_size)
        self.packed = config.packed

    def forward(self, ids: Tensor, mask: Tensor) -> Tensor:
        states = run_rnn(self.rnn, self.embed(ids), mask.sum(1).clamp_min(1), self.packed)
        pooled, _ = self.pool(states, mask)
        return self.head(self.dropout(pooled))

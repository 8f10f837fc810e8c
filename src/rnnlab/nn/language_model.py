"""The RNN language model: embedding -> stacked recurrent layer -> softmax over the vocabulary.

    P(x_1 .. x_T) = prod_t P(x_t | x_<t),   P(x_t | x_<t) = softmax(W h_t + b),   h_t = RNN(e(x_t-1), h_t-1)

The recurrent layer is any registered cell (`rnnlab.nn.cell_names()`): the fused `LSTM`/`GRU`/`RNN`
(torch's kernels), or `Recurrent` over a custom cell such as `LayerNormLSTMCell`. Dropout is applied to the embeddings, between
recurrent layers and before the output layer; weight tying shares the embedding matrix with the output
layer (Press & Wolf 2017, Inan et al. 2017), which needs embedding_size == hidden_size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from rnnlab.config import require
from rnnlab.nn.cell_registry import check_cell_name, make_recurrent

State = Tensor | tuple[Tensor, Tensor]  # h (layers, N, H), or (h, c) when the layer's state_is_tuple


@dataclass
class RNNLMConfig:
    """Architecture of an RNN language model (the `model:` section of a config)."""

    cell: str = "lstm"  # any registered cell: lstm, gru, rnn, rnn_relu, lnlstm (= layernorm_lstm) ...
    embedding_size: int = 200
    hidden_size: int = 200
    num_layers: int = 2
    dropout: float = 0.0  # on embeddings, between layers and before the softmax
    tie_weights: bool = False  # share the embedding matrix with the output layer
    init_range: float | None = None  # uniform(-r, r) init of all weights (Zaremba et al. use 0.1); None = torch's
    # for the recurrent layer, U(-0.1, 0.1) for embedding and softmax weights

    def __post_init__(self) -> None:
        check_cell_name(self.cell, "model.cell")
        for name in ("embedding_size", "hidden_size", "num_layers"):
            require(getattr(self, name) >= 1, name, ">= 1", getattr(self, name))
        require(0.0 <= self.dropout < 1.0, "dropout", "a value in [0, 1)", self.dropout)
        require(not self.tie_weights or self.embedding_size == self.hidden_size, "tie_weights",
                "embedding_size == hidden_size", {"embedding_size": self.embedding_size,
                                                  "hidden_size": self.hidden_size})  # fmt: skip


class RNNLanguageModel(nn.Module):
    """Next-token model over a vocabulary of `vocab_size` tokens.

    forward(tokens (L, N) int64, state) -> logits (L, N, V), new state. The state is the recurrent
    layer's: h (layers, N, H), or a tuple (h, c) of those when ``self.rnn.state_is_tuple`` (LSTM-like
    cells); `None` means zeros. Parameters: ``embedding.weight`` (V, E), the layer's under ``rnn.``,
    ``output.weight`` (V, H) and ``output.bias`` (V,).
    """

    def __init__(self, vocab_size: int, config: RNNLMConfig) -> None:
        super().__init__()
        if vocab_size < 2:
            raise ValueError(f"vocab_size must be >= 2, got {vocab_size}")
        self.config = config
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, config.embedding_size)
        self.dropout = nn.Dropout(config.dropout)
        self.rnn = make_recurrent(config.cell, config.embedding_size, config.hidden_size, config.num_layers,
                                  dropout=config.dropout)  # fmt: skip
        self.output = nn.Linear(config.hidden_size, vocab_size)
        # pytorch/examples' init: small uniform embedding and softmax weights, zero softmax bias (torch's
        # N(0, 1) embedding is far too large for a tied output layer and slow to move with Adam).
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        nn.init.uniform_(self.output.weight, -0.1, 0.1)
        nn.init.zeros_(self.output.bias)
        if config.init_range is not None:  # Zaremba et al.: every weight ~ U(-r, r)
            for parameter in self.parameters():
                nn.init.uniform_(parameter, -config.init_range, config.init_range)
        if config.tie_weights:
            self.output.weight = self.embedding.weight

    def forward(self, tokens: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        if tokens.dim() != 2 or tokens.dtype != torch.long:
            raise ValueError(f"expected token ids of shape (L, N) and dtype int64, got {tuple(tokens.shape)} {tokens.dtype}")
        embedded = self.dropout(self.embedding(tokens))  # (L, N, E)
        hidden, state = self.rnn(embedded, state)  # (L, N, H)
        return self.output(self.dropout(hidden)), state

    def init_state(self, batch_size: int) -> State:
        """Zero state for `batch_size` sequences (``new_zeros`` keeps device and dtype)."""
        weight = self.embedding.weight
        shape = (self.config.num_layers, batch_size, self.config.hidden_size)
        if self.rnn.state_is_tuple:
            return weight.new_zeros(shape), weight.new_zeros(shape)
        return weight.new_zeros(shape)


def detach_state(state: State | None) -> State | None:
    """Cut the graph between truncated-BPTT windows, keeping the values (pytorch/examples' repackage_hidden)."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()

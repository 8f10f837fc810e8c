"""The RNN language model: embedding -> stacked recurrent layer -> softmax over the vocabulary.

    P(x_1 .. x_T) = prod_t P(x_t | x_<t),   P(x_t | x_<t) = softmax(W h_t + b),   h_t = RNN(e(x_t-1), h_t-1)

With `line_positions` > 0 the softmax also sees *which line* of the current text line the model is in:

    P(x_t | x_<t) = softmax(W (h_t + p(k_t)) + b)

where k_t counts the line marks (，。！？； for poems) read since the last boundary token, capped at
`line_positions - 1`, and p is a learned embedding. k_t is a function of the tokens already read (like a
Transformer's position encoding), so sampling stays free; it only spares the RNN learning to count. A
4-minute character GRU on Tang poems gives 30-45% of its free samples an irregular shape without it, nearly
all ending after 2 or 6 lines (it cannot tell the 2nd couplet from the 3rd), and 2-8% with it
(docs/language_models.md). The count is part of the state, so it carries across truncated-BPTT windows
like the hidden state does.

With `rhyme_memory` (needs line positions) the softmax also sees the final character r_t of the most recent
*even* line of the current text line (none before line 2 ends), gated by the hidden state:

    P(x_t | x_<t) = softmax(W (h_t + p(k_t) + sigmoid(G h_t + g) * M e(r_t)) + b)

where e is the input embedding and M a learned map. Regular poems rhyme on their even lines, so at the end
of line 4 the rhyme of line 2 is one product away instead of 20-odd recurrent steps back; like k_t, r_t is
computed from the characters already read, so samples stay free (nothing picks rhyme characters). Without
it a 4-minute GRU's free poems rhyme at chance level (docs/poetry.md).

The recurrent layer is any registered cell (`rnnlab.nn.cell_names()`): the fused `LSTM`/`GRU`/`RNN`
(torch's kernels), or `Recurrent` over a custom cell such as `LayerNormLSTMCell`. Dropout is applied to the embeddings, between
recurrent layers and before the output layer; weight tying shares the embedding matrix with the output
layer (Press & Wolf 2017, Inan et al. 2017), which needs embedding_size == hidden_size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from rnnlab.config import MAX_LAYERS, require, require_fractions, require_sizes
from rnnlab.nn.cell_registry import check_cell_name, make_recurrent
from rnnlab.nn.decoding import map_state

# h (layers, N, H), or (h, c) when the layer's state_is_tuple; with line positions (that, line (1, N, 1) int64),
# and with rhyme memory also memory (1, N, 2) int64: [rhyme character or -1, last token read or -1]
State = Tensor | tuple


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
    line_positions: int = 0  # > 0: tell the softmax which line it is in (0 .. line_positions-1); 0: off
    line_marks: str = "，。！？；"  # each character is a token that ends a line inside a text line
    rhyme_memory: bool = False  # show the softmax the last character of the latest even line (needs line_positions)

    def __post_init__(self) -> None:
        check_cell_name(self.cell, "model.cell")
        require_sizes(self, "embedding_size hidden_size")
        require_sizes(self, "num_layers", high=MAX_LAYERS)
        require_fractions(self, "dropout")
        require(self.init_range is None or 0.0 < self.init_range <= 10.0, "init_range",
                "a number in (0, 10], or null for torch's initialisation", self.init_range)  # fmt: skip
        require_sizes(self, "line_positions", low=0, high=1000)  # 0 = off; one softmax bias per position
        require(self.line_positions == 0 or self.line_marks != "", "line_marks", "at least one mark when "
                "line_positions > 0", self.line_marks)  # fmt: skip
        require(not self.rhyme_memory or self.line_positions > 0, "rhyme_memory", "line_positions > 0 (the "
                "even lines are counted with the line marks)", self.line_positions)  # fmt: skip
        require(not self.tie_weights or self.embedding_size == self.hidden_size, "tie_weights",
                "embedding_size == hidden_size", {"embedding_size": self.embedding_size,
                                                  "hidden_size": self.hidden_size})  # fmt: skip


class RNNLanguageModel(nn.Module):
    """Next-token model over a vocabulary of `vocab_size` tokens.

    forward(tokens (L, N) int64, state) -> logits (L, N, V), new state. The state is the recurrent
    layer's: h (layers, N, H), or a tuple (h, c) of those when ``self.rnn.state_is_tuple`` (LSTM-like
    cells); `None` means zeros. Parameters: ``embedding.weight`` (V, E), the layer's under ``rnn.``,
    ``output.weight`` (V, H) and ``output.bias`` (V,).

    With ``config.line_positions`` > 0 the model needs the ids of the line marks (`line_mark_ids`) and of
    the boundary token that starts a text line (`boundary_id`); the state becomes (layer state, line) with
    line (1, N, 1) int64, the marks counted since the last boundary; ``line_embedding.weight`` (P, H).
    With ``config.rhyme_memory`` the state is (layer state, line, memory), memory (1, N, 2) int64, and
    ``rhyme_map.weight`` (H, E), ``rhyme_gate.weight`` (H, H) and ``rhyme_gate.bias`` (H,) are added.
    """

    def __init__(
        self,
        vocab_size: int,
        config: RNNLMConfig,
        line_mark_ids: Sequence[int] = (),
        boundary_id: int | None = None,
    ) -> None:
        super().__init__()
        if vocab_size < 2:
            raise ValueError(f"vocab_size must be >= 2, got {vocab_size}")
        if config.line_positions and (not line_mark_ids or boundary_id is None):
            raise ValueError("line_positions > 0 needs the ids of the line marks and of the boundary token")
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
        self.line_embedding: nn.Embedding | None = None
        if config.line_positions:
            self.line_embedding = nn.Embedding(config.line_positions, config.hidden_size)
            nn.init.uniform_(self.line_embedding.weight, -0.1, 0.1)
            # Not saved with the weights: rebuilt from the vocabulary and config.line_marks when loading.
            self.register_buffer("line_mark_ids", torch.tensor(sorted(set(line_mark_ids)), dtype=torch.long),
                                 persistent=False)  # fmt: skip
            self.boundary_id = int(boundary_id)
        self.rhyme_map: nn.Linear | None = None
        if config.rhyme_memory:
            self.rhyme_map = nn.Linear(config.embedding_size, config.hidden_size, bias=False)
            self.rhyme_gate = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, tokens: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        if tokens.dim() != 2 or tokens.dtype != torch.long:
            raise ValueError(f"expected token ids of shape (L, N) and dtype int64, got {tuple(tokens.shape)} {tokens.dtype}")
        embedded = self.dropout(self.embedding(tokens))  # (L, N, E)
        if self.line_embedding is None:
            hidden, state = self.rnn(embedded, state)  # (L, N, H)
            return self.output(self.dropout(hidden)), state
        parts = 2 if self.rhyme_map is None else 3
        if state is not None and not (isinstance(state, tuple) and len(state) == parts):
            raise ValueError("a model with line positions takes the state it returned: "
                             + ("(layer state, line)" if parts == 2 else "(layer state, line, memory)"))  # fmt: skip
        layer_state, line, memory = (None, None, None) if state is None else (*state, None)[:3]
        hidden, layer_state = self.rnn(embedded, layer_state)  # (L, N, H)
        counts = self.line_index(tokens, None if line is None else line[0, :, 0], capped=False)  # (L, N)
        lines = counts.clamp(max=self.config.line_positions - 1)
        hidden = hidden + self.line_embedding(lines)
        if self.rhyme_map is None:
            return self.output(self.dropout(hidden)), (layer_state, lines[-1:].unsqueeze(2))
        rhyme, memory = self.rhyme_characters(tokens, counts, memory)  # (L, N)
        # F.embedding, not self.embedding(...): the rhyme is a second use of the table, not an input token
        # (keeps `rnnlab trace`'s embedding hook to the inputs).
        remembered = nn.functional.embedding(rhyme.clamp(min=0), self.embedding.weight) * (rhyme >= 0).unsqueeze(2)  # (L, N, E)
        hidden = hidden + torch.sigmoid(self.rhyme_gate(hidden)) * self.rhyme_map(self.dropout(remembered))
        return self.output(self.dropout(hidden)), (layer_state, lines[-1:].unsqueeze(2), memory)

    def rhyme_characters(self, tokens: Tensor, counts: Tensor, memory: Tensor | None) -> tuple[Tensor, Tensor]:
        """For each token, the final character of the latest even line read (-1: none since the boundary).

        tokens, counts (L, N) int64 (counts: uncapped `line_index`); memory (1, N, 2) int64 carried in
        ([rhyme, last token], or None: nothing read). Returns rhyme (L, N) and the memory to carry out.
        An even line ends where its mark is read (count 2, 4, ...); its final character is the token before.
        """
        length = tokens.shape[0]
        carried = tokens.new_full((1, tokens.shape[1]), -1) if memory is None else memory[0, :, 0].unsqueeze(0)
        previous_last = carried if memory is None else memory[0, :, 1].unsqueeze(0)
        previous = torch.cat([previous_last, tokens[:-1]])  # (L, N): the token read before each
        even_end = torch.isin(tokens, self.line_mark_ids) & (counts % 2 == 0) & (counts > 0)
        boundary = tokens == self.boundary_id
        value = torch.where(even_end, previous, torch.full_like(tokens, -1))  # what each event sets
        steps = torch.arange(length, device=tokens.device).unsqueeze(1).expand_as(tokens)
        latest = torch.where(even_end | boundary, steps, torch.full_like(tokens, -1)).cummax(0).values
        rhyme = torch.where(latest >= 0, value.gather(0, latest.clamp(min=0)), carried.expand_as(tokens))
        return rhyme, torch.stack([rhyme[-1], tokens[-1]], dim=1).unsqueeze(0)

    def line_index(self, tokens: Tensor, start: Tensor | None = None, capped: bool = True) -> Tensor:
        """(L, N) int64: for each token, the line marks read since the last boundary token, that token
        included (the boundary itself is 0), capped at line_positions - 1 (unless `capped` is False).
        `start` (N,): the count carried in from before `tokens` (None: 0)."""
        marks = torch.isin(tokens, self.line_mark_ids).long().cumsum(0)  # marks read so far in this window
        no_boundary = torch.full_like(marks, -1)
        # marks read up to the last boundary at or before each step (-1: none in this window yet)
        at_boundary = torch.where(tokens == self.boundary_id, marks, no_boundary).cummax(0).values
        carried = marks if start is None else marks + start.unsqueeze(0)
        lines = torch.where(at_boundary >= 0, marks - at_boundary, carried)
        return lines.clamp(max=self.config.line_positions - 1) if capped else lines

    def init_state(self, batch_size: int) -> State:
        """Zero state for `batch_size` sequences (``new_zeros`` keeps device and dtype)."""
        weight = self.embedding.weight
        shape = (self.config.num_layers, batch_size, self.config.hidden_size)
        layer_state = (weight.new_zeros(shape), weight.new_zeros(shape)) if self.rnn.state_is_tuple else weight.new_zeros(shape)
        if self.line_embedding is None:
            return layer_state
        line = torch.zeros(1, batch_size, 1, dtype=torch.long, device=weight.device)
        if self.rhyme_map is None:
            return layer_state, line
        return layer_state, line, torch.full((1, batch_size, 2), -1, dtype=torch.long, device=weight.device)


def detach_state(state: State | None) -> State | None:
    """Cut the graph between truncated-BPTT windows, keeping the values (pytorch/examples' repackage_hidden)."""
    return map_state(state, Tensor.detach)

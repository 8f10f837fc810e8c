"""A tree (or its token sequence) to a vector of outputs: embeddings -> an encoder -> the root's state -> a head.

    tree encoders:      TreeBatch --Embedding of each node's word or label--> (N, E)
                          --ChildSumTreeLSTM | NaryTreeLSTM | RecursiveNet--> states (N, H) --[roots]--> (T, H)
    sequence baselines: ids (T, L) --Embedding--> (T, L, E) --LSTM (last state) | BiLSTM (both last states)
                          | bag (mean of the embeddings, then tanh(Linear))--> (T, D)
    head:               Dropout, Linear(D, H), ReLU, Linear(H, outputs)   (logits, or a standardised number)

The tree encoders read every node: a leaf's word and an internal node's label (`MAX`, `NP`, an `ast` node
type) are looked up in one embedding table, so an operation's node knows which operation it is. Because
the head reads one state, it can be applied to any node's state too (`node_outputs`): what the model
would answer for each subtree (`rnnlab tree-predict` shows it).

`encoder` choices: `tree_lstm` (Child-Sum Tree-LSTM: any number of children, order ignored), `nary_lstm`
(N-ary Tree-LSTM, `max_children` ordered children), `recursive` (the chapter's h = f(W_x x + W[h_1; ...; h_K]
+ b), `composition` pad or sum, optional RNTN `tensor` term), and the baselines `lstm`, `bilstm`, `bag`;
`layer_norm` layer-normalises the Tree-LSTMs' gates and memory cells (`rnnlab.nn.tree_cells`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from rnnlab.config import require_fractions, require_sizes
from rnnlab.nn.pooling import last_state, masked_mean
from rnnlab.nn.recurrent import run_packed
from rnnlab.nn.trees import ChildSumTreeLSTM, NaryTreeLSTM, RecursiveNet, TreeBatch

__all__ = ["ENCODERS", "TREE_ENCODERS", "SequenceBatch", "TreeModel", "TreeModelConfig"]

ENCODERS = ("tree_lstm", "nary_lstm", "recursive", "lstm", "bilstm", "bag")
TREE_ENCODERS = ("tree_lstm", "nary_lstm", "recursive")


@dataclass
class TreeModelConfig:
    """The `model:` section of the tree task."""

    encoder: Literal["tree_lstm", "nary_lstm", "recursive", "lstm", "bilstm", "bag"] = "tree_lstm"
    embedding_size: int = 64
    hidden_size: int = 128
    max_children: int = 2  # nary_lstm's n; recursive's K with composition "pad"
    composition: Literal["pad", "sum"] = "sum"  # recursive: concatenate K children (pad) or sum them
    tensor: bool = False  # recursive: add the RNTN tensor term
    layer_norm: bool = False  # tree_lstm, nary_lstm: layer-normalised gates and memory cell (others ignore it)
    dropout: float = 0.1

    def __post_init__(self) -> None:
        require_sizes(self, "embedding_size hidden_size")
        require_sizes(self, "max_children", high=64)  # the N-ary cell has one weight block per child
        require_fractions(self, "dropout")

    @property
    def reads_trees(self) -> bool:
        return self.encoder in TREE_ENCODERS

    @property
    def children_limit(self) -> int | None:
        """The most children a node may have for this encoder (None: any)."""
        if self.encoder == "nary_lstm" or (self.encoder == "recursive" and self.composition == "pad"):
            return self.max_children
        return None


class SequenceBatch(NamedTuple):
    """Token ids (T, L) padded with 0 and mask (T, L), True on real tokens (at least one per row)."""

    ids: Tensor
    mask: Tensor


class TreeModel(nn.Module):
    """`forward(batch) -> (T, output_size)`: a TreeBatch for the tree encoders, a SequenceBatch otherwise."""

    def __init__(self, config: TreeModelConfig, vocab_size: int, output_size: int, pad_id: int = 0) -> None:
        super().__init__()
        self.config = config
        size, hidden = config.embedding_size, config.hidden_size
        self.embed = nn.Embedding(vocab_size, size, padding_idx=pad_id)
        if config.encoder == "tree_lstm":
            self.encoder: nn.Module = ChildSumTreeLSTM(size, hidden, layer_norm=config.layer_norm)
        elif config.encoder == "nary_lstm":
            self.encoder = NaryTreeLSTM(size, hidden, n=config.max_children, layer_norm=config.layer_norm)
        elif config.encoder == "recursive":
            self.encoder = RecursiveNet(size, hidden, composition=config.composition,
                                        max_children=config.max_children, tensor=config.tensor)  # fmt: skip
        elif config.encoder in ("lstm", "bilstm"):
            self.encoder = nn.LSTM(size, hidden, batch_first=True, bidirectional=config.encoder == "bilstm")
        else:  # bag of tokens
            self.encoder = nn.Linear(size, hidden)
        state_size = 2 * hidden if config.encoder == "bilstm" else hidden
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(state_size, hidden), nn.ReLU(),
                                  nn.Linear(hidden, output_size))  # fmt: skip

    @property
    def reads_trees(self) -> bool:
        return self.config.reads_trees

    def node_states(self, batch: TreeBatch) -> Tensor:
        """Every node's state (N, H) (tree encoders only)."""
        states = self.encoder(batch, self.embed(batch.node_tokens))
        return states[0] if isinstance(states, tuple) else states

    def encode(self, batch: TreeBatch | SequenceBatch, nodes: Tensor | None = None) -> Tensor:
        """One state per tree (T, D), or with `nodes` (K,) (tree encoders) the states of those nodes (K, H)."""
        if self.reads_trees:
            return self.node_states(batch).index_select(0, batch.roots if nodes is None else nodes)
        ids, mask = batch
        embedded = self.embed(ids)
        if self.config.encoder == "bag":
            return torch.tanh(self.encoder(masked_mean(embedded, mask)))
        states = run_packed(self.encoder, embedded, mask.sum(1).clamp_min(1))
        return last_state(states, mask, bidirectional=self.config.encoder == "bilstm")

    def forward(self, batch: TreeBatch | SequenceBatch, nodes: Tensor | None = None) -> Tensor:
        """The head's outputs for each tree's root (T, output_size), or for the nodes `nodes` (K,) of the batch
        (K, output_size): the per-node loss of `data.node_labels` trains through the same call."""
        if nodes is not None and not self.reads_trees:
            raise ValueError(f"TreeModel: nodes= needs a tree encoder, not {self.config.encoder}")
        return self.head(self.encode(batch, nodes))

    def node_outputs(self, batch: TreeBatch) -> tuple[Tensor, Tensor]:
        """(the head applied to every node's state (N, output_size), the states (N, H)): the answer the model
        would give for each subtree."""
        states = self.node_states(batch)
        return self.head(states), states

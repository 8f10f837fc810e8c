"""Fill in the blank with a bidirectional RNN: two RNN language models, one reading each way.

A forward RNN reads the words left of position t, a backward RNN the words right of it. Two heads share
them and are trained together on every position of every sentence:

    forward-only head:   P(x_t | x_<t)        = softmax(W_f h_fwd(t-1))             (a plain LM)
    bidirectional head:  P(x_t | x_<t, x_>t)  = softmax(W_b [h_fwd(t-1); h_bwd(t+1)])

Shapes are batch-first: ids (N, L) are ``<s> x_1 .. x_n </s>`` padded with id 0, lengths (N,) count
``<s>`` and ``</s>``. The task around it (data, training, `rnnlab cloze`) is `rnnlab.tasks.cloze`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from rnnlab.config import MAX_LAYERS, require_fractions, require_sizes
from rnnlab.nn.cell_registry import check_cell_name, make_recurrent


@dataclass
class ClozeModelConfig:
    """Architecture of a cloze model (the `model:` section of its config)."""

    rnn: str = "lstm"  # any registered cell (rnnlab.nn.cell_names())
    embedding_dim: int = 128
    hidden_size: int = 256
    num_layers: int = 1
    dropout: float = 0.3

    def __post_init__(self) -> None:
        check_cell_name(self.rnn, "model.rnn")
        require_sizes(self, "embedding_dim hidden_size")
        require_sizes(self, "num_layers", high=MAX_LAYERS)
        require_fractions(self, "dropout")


def reverse_padded(x: Tensor, lengths: Tensor) -> Tensor:
    """Reverse each row's first `lengths[i]` positions, leaving the padding in place. x (N, L, ...)."""
    positions = torch.arange(x.size(1), device=x.device).unsqueeze(0)  # (1, L)
    index = torch.where(positions < lengths.unsqueeze(1), lengths.unsqueeze(1) - 1 - positions, positions)
    return x.gather(1, index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x))


class BiCloze(nn.Module):
    """Forward and backward RNN LMs over `<s> x_1 .. x_n </s>` with a forward-only and a two-sided head.

    Parameters: ``embed.weight`` (V, E), ``forward_rnn.*`` and ``backward_rnn.*`` (two unidirectional
    stacks), ``forward_head`` (V, H) and ``both_head`` (V, 2H).
    """

    def __init__(self, config: ClozeModelConfig, vocab_size: int, pad_id: int = 0) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, config.embedding_dim, padding_idx=pad_id)
        self.dropout = nn.Dropout(config.dropout)
        layer = dict(num_layers=config.num_layers, batch_first=True, dropout=config.dropout)
        self.forward_rnn = make_recurrent(config.rnn, config.embedding_dim, config.hidden_size, **layer)
        self.backward_rnn = make_recurrent(config.rnn, config.embedding_dim, config.hidden_size, **layer)
        self.forward_head = nn.Linear(config.hidden_size, vocab_size)
        self.both_head = nn.Linear(2 * config.hidden_size, vocab_size)

    def states(self, ids: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """h_fwd (N, L, H) where h_fwd[t] has read ids[..t]; h_bwd (N, L, H) where h_bwd[t] read ids[t..end]."""
        vectors = self.dropout(self.embed(ids))
        forward, _ = self.forward_rnn(vectors)
        backward, _ = self.backward_rnn(reverse_padded(vectors, lengths))
        return self.dropout(forward), self.dropout(reverse_padded(backward, lengths))

    def logits(self, ids: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Scores for the words at positions 1..L-2 (between <s> and </s>): (forward-only, both), (N, L-2, V)."""
        forward, backward = self.states(ids, lengths)
        left = forward[:, :-2]  # h_fwd(t-1) for t = 1..L-2
        right = backward[:, 2:]  # h_bwd(t+1)
        return self.forward_head(left), self.both_head(torch.cat([left, right], dim=2))

    def forward(self, ids: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """`losses`: going through `forward` lets a wrapper (DDP, torch.compile) see the training pass."""
        return self.losses(ids, lengths)

    def losses(self, ids: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Per-position cross-entropy (N, L-2) of both heads, targets (N, L-2), and the mask of real words."""
        forward_logits, both_logits = self.logits(ids, lengths)
        targets = ids[:, 1:-1]
        mask = torch.arange(targets.size(1), device=ids.device).unsqueeze(0) < (lengths - 2).unsqueeze(1)
        ce = nn.functional.cross_entropy
        forward_loss = ce(forward_logits.transpose(1, 2), targets, reduction="none")
        both_loss = ce(both_logits.transpose(1, 2), targets, reduction="none")
        return forward_loss, both_loss, targets, mask

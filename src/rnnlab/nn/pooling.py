"""Sequence-to-vector pooling over the states of a (bidirectional) RNN, respecting padding masks.

All take states (N, L, H) batch-first and mask (N, L) bool (True on real tokens, at least one per row)
and return (N, H') vectors.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

POOLINGS = ("last", "mean", "max", "attention")


def masked_mean(states: Tensor, mask: Tensor) -> Tensor:
    """Average of the real positions, (N, H)."""
    weights = mask.unsqueeze(2).to(states.dtype)
    return (states * weights).sum(1) / weights.sum(1).clamp_min(1)


def masked_max(states: Tensor, mask: Tensor) -> Tensor:
    """Element-wise max over the real positions, (N, H)."""
    return states.masked_fill(~mask.unsqueeze(2), float("-inf")).max(dim=1).values


def last_state(states: Tensor, mask: Tensor, bidirectional: bool) -> Tensor:
    """The final state of each direction: forward half at the last real token, backward half at token 0.

    states (N, L, H) with H = 2 * hidden when bidirectional (forward first, as torch.nn lays it out).
    """
    last = (mask.sum(1) - 1).clamp_min(0)
    rows = torch.arange(states.size(0), device=states.device)
    if not bidirectional:
        return states[rows, last]
    half = states.size(2) // 2
    return torch.cat([states[rows, last, :half], states[:, 0, half:]], dim=1)


class AttentionPooling(nn.Module):
    """Additive attention with a learned query: a = softmax(v . tanh(W h_t)), output sum_t a_t h_t."""

    def __init__(self, hidden_size: int, attention_size: int = 64) -> None:
        super().__init__()
        self.project = nn.Linear(hidden_size, attention_size)
        self.query = nn.Linear(attention_size, 1, bias=False)

    def forward(self, states: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Returns (pooled (N, H), weights (N, L)); padded positions get weight 0."""
        scores = self.query(torch.tanh(self.project(states))).squeeze(2)
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=1)
        return torch.bmm(weights.unsqueeze(1), states).squeeze(1), weights


class Pooling(nn.Module):
    """One of POOLINGS chosen by name; `forward` returns (pooled (N, H), attention weights or None)."""

    def __init__(self, method: str, hidden_size: int, bidirectional: bool) -> None:
        super().__init__()
        if method not in POOLINGS:
            raise ValueError(f"pooling: expected one of {POOLINGS}, got {method!r}")
        self.method = method
        self.bidirectional = bidirectional
        self.attention = AttentionPooling(hidden_size) if method == "attention" else None

    def forward(self, states: Tensor, mask: Tensor) -> tuple[Tensor, Tensor | None]:
        if self.method == "mean":
            return masked_mean(states, mask), None
        if self.method == "max":
            return masked_max(states, mask), None
        if self.method == "last":
            return last_state(states, mask, self.bidirectional), None
        return self.attention(states, mask)

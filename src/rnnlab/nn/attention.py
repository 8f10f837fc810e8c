"""Attention over an encoder's memory: Bahdanau (additive) and Luong (dot, general) scoring.

All three share one interface::

    keys = attention.project_memory(memory)                  # once per source batch
    context, weights = attention(query, keys, memory, mask)  # every decoder step (or all steps at once)

query:   (B, H_q) for one decoder step, or (B, T, H_q) for T steps at once
memory:  (B, S, H_m) encoder outputs (the values that are averaged)
keys:    what `project_memory` returns: (B, S, H_a) for additive, (B, S, H_q) for general, memory for dot
mask:    (B, S) bool, True at real source tokens, False at padding (every row needs one True)
returns  context (B, [T,] H_m) and weights (B, [T,] S), each weight row summing to 1 over real tokens

Projecting the keys once per batch (not once per step) is what makes step-by-step decoding cheap.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["Attention", "AdditiveAttention", "DotAttention", "GeneralAttention", "make_attention"]


class Attention(nn.Module):
    """Base class: subclasses define `project_memory` and `score`."""

    def project_memory(self, memory: Tensor) -> Tensor:
        """memory (B, S, H_m) -> keys used by `score`."""
        return memory

    def score(self, query: Tensor, keys: Tensor) -> Tensor:
        """query (B, T, H_q), keys -> unnormalised scores (B, T, S)."""
        raise NotImplementedError

    def forward(self, query: Tensor, keys: Tensor, memory: Tensor, mask: Tensor | None = None):
        single_step = query.dim() == 2
        if single_step:
            query = query.unsqueeze(1)
        if query.dim() != 3 or memory.dim() != 3 or query.size(0) != memory.size(0):
            raise ValueError(
                f"attention expects query (B, [T,] H) and memory (B, S, H) with the same B; got "
                f"query {tuple(query.shape)} and memory {tuple(memory.shape)}"
            )
        scores = self.score(query, keys)  # (B, T, S)
        if mask is not None:
            if mask.shape != (memory.size(0), memory.size(1)):
                raise ValueError(f"mask must be (B, S) = {tuple(memory.shape[:2])}, got {tuple(mask.shape)}")
            scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        context = torch.bmm(weights, memory)  # (B, T, H_m)
        if single_step:
            return context.squeeze(1), weights.squeeze(1)
        return context, weights


class AdditiveAttention(Attention):
    """Bahdanau et al. (2015): score(q, k) = v^T tanh(W_q q + W_k k)."""

    def __init__(self, query_size: int, memory_size: int, attention_size: int | None = None):
        super().__init__()
        attention_size = attention_size or query_size
        self.key_layer = nn.Linear(memory_size, attention_size, bias=False)
        self.query_layer = nn.Linear(query_size, attention_size, bias=False)
        self.energy_layer = nn.Linear(attention_size, 1, bias=False)

    def project_memory(self, memory: Tensor) -> Tensor:
        return self.key_layer(memory)  # (B, S, A)

    def score(self, query: Tensor, keys: Tensor) -> Tensor:
        # (B, T, 1, A) + (B, 1, S, A) -> (B, T, S, A) -> (B, T, S)
        hidden = torch.tanh(self.query_layer(query).unsqueeze(2) + keys.unsqueeze(1))
        return self.energy_layer(hidden).squeeze(-1)


class DotAttention(Attention):
    """Luong et al. (2015) "dot": score(q, k) = q . k (query and memory sizes must match)."""

    def __init__(self, query_size: int, memory_size: int):
        super().__init__()
        if query_size != memory_size:
            raise ValueError(
                f"dot attention needs query size == memory size, got {query_size} and {memory_size}; "
                f"use 'general' attention for different sizes"
            )

    def score(self, query: Tensor, keys: Tensor) -> Tensor:
        return torch.bmm(query, keys.transpose(1, 2))


class GeneralAttention(Attention):
    """Luong et al. (2015) "general": score(q, k) = q^T W k."""

    def __init__(self, query_size: int, memory_size: int):
        super().__init__()
        self.key_layer = nn.Linear(memory_size, query_size, bias=False)

    def project_memory(self, memory: Tensor) -> Tensor:
        return self.key_layer(memory)  # (B, S, H_q): W k, precomputed

    def score(self, query: Tensor, keys: Tensor) -> Tensor:
        return torch.bmm(query, keys.transpose(1, 2))


def make_attention(kind: str, query_size: int, memory_size: int) -> Attention:
    """'bahdanau' (alias 'additive'), 'dot' or 'general' (alias 'luong')."""
    kinds = {
        "bahdanau": AdditiveAttention,
        "additive": AdditiveAttention,
        "dot": DotAttention,
        "general": GeneralAttention,
        "luong": GeneralAttention,
    }
    if kind not in kinds:
        raise ValueError(f"attention must be one of {sorted(kinds)}, got {kind!r}")
    return kinds[kind](query_size, memory_size)

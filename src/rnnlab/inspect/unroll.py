"""Unroll a cell step by step so every state is a node we can differentiate, and step Jacobians.

A cell's state is h (N, H) or, for LSTM-like cells, (h, c). For Jacobians we flatten it into one vector
s = [h | c] of size S, so "the recurrent Jacobian" ∂s_t/∂s_{t-1} is an (S, S) matrix for every cell.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def is_tuple_cell(cell: nn.Module) -> bool:
    return bool(getattr(cell, "state_is_tuple", isinstance(cell, nn.LSTMCell)))


def zero_state(
    cell: nn.Module, batch_size: int, dtype: torch.dtype | None = None
) -> Tensor | tuple[Tensor, Tensor]:
    h = torch.zeros(batch_size, cell.hidden_size, dtype=dtype)
    return (h, torch.zeros_like(h)) if is_tuple_cell(cell) else h


def flatten_state(state: Tensor | tuple[Tensor, Tensor]) -> Tensor:
    """(N, H) or ((N, H), (N, H)) -> (N, S)."""
    return torch.cat(state, dim=-1) if isinstance(state, tuple) else state


def unflatten_state(cell: nn.Module, flat: Tensor) -> Tensor | tuple[Tensor, Tensor]:
    if is_tuple_cell(cell):
        h, c = flat.split(cell.hidden_size, dim=-1)
        return h, c
    return flat


def unroll(cell: nn.Module, inputs: Tensor, state=None) -> list:
    """Run `cell` over inputs (T, N, I); returns the T states (each h or (h, c)), all in the graph."""
    state = zero_state(cell, inputs.shape[1], inputs.dtype) if state is None else state
    states = []
    for x in inputs:
        state = cell(x, state)
        states.append(state)
    return states


def step_jacobians(cell: nn.Module, inputs: Tensor, state=None) -> tuple[Tensor, Tensor, list]:
    """Per-step Jacobians along the trajectory of one sequence (inputs (T, 1, I)).

    Returns (J, B, states): J (T, S, S) with J[t] = ∂s_t/∂s_{t-1}; B (T, S, I) with B[t] = ∂s_t/∂x_t;
    states the T states (not detached). Computed with torch.func.jacrev on the cell's own step.
    """
    if inputs.shape[1] != 1:
        raise ValueError(f"step_jacobians: expected one sequence (T, 1, I), got {tuple(inputs.shape)}")
    state = zero_state(cell, 1, inputs.dtype) if state is None else state

    def step(flat_state: Tensor, x: Tensor) -> Tensor:
        new = cell(x.unsqueeze(0), unflatten_state(cell, flat_state.unsqueeze(0)))
        return flatten_state(new).squeeze(0)

    jac_state, jac_input, states = [], [], []
    flat = flatten_state(state).squeeze(0).detach()
    for x in inputs[:, 0]:
        d_state, d_input = torch.func.jacrev(step, argnums=(0, 1))(flat, x)
        jac_state.append(d_state)
        jac_input.append(d_input)
        flat = step(flat, x).detach()
        states.append(unflatten_state(cell, flat.unsqueeze(0)))
    return torch.stack(jac_state), torch.stack(jac_input), states


def spectral_radius(matrix: Tensor) -> float:
    """max |eigenvalue| of a square matrix."""
    return float(torch.linalg.eigvals(matrix.detach().double()).abs().max())

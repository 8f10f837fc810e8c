"""Build the recurrent cells and layers the inspection tools look at, by name.

Names are those of the cell registry (`rnnlab.nn.cell_names()`: "rnn" (tanh Elman), "lstm", "gru",
"lnlstm" (the layer-norm LSTM cell run through the generic `rnnlab.nn.Recurrent` layer), and any cell
registered with `rnnlab.nn.register_cell`). Everything returned follows torch.nn's contracts, so the tools
below work the same on torch.nn modules.
The layers take torch's fused kernel where they can (speed) and the explicit path when gates are recorded.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from rnnlab.errors import ConfigError
from rnnlab.nn.cell_registry import get_cell


def check_name(name: str, allowed: tuple[str, ...]) -> str:
    """`name` if it is in `allowed` (a tool's own subset of cells), else a ConfigError listing them."""
    if name not in allowed:
        raise ConfigError(f"unknown cell {name!r}; expected one of {', '.join(allowed)}")
    return name


def make_cell(name: str, input_size: int, hidden_size: int) -> nn.Module:
    """A single cell: `cell(x (N, H_in), state) -> state` (state h, or (h, c) when `cell.state_is_tuple`)."""
    return get_cell(name).make_cell(input_size, hidden_size)


def make_layer(
    name: str,
    input_size: int,
    hidden_size: int,
    batch_first: bool = True,
    num_layers: int = 1,
    bidirectional: bool = False,
) -> nn.Module:
    """A recurrent layer with torch.nn's forward contract (fused kernel where the cell has one)."""
    return get_cell(name).make_layer(input_size, hidden_size, num_layers, batch_first, bidirectional=bidirectional)


def reinitialised(model: nn.Module, seed: int = 0) -> nn.Module:
    """A copy of `model` with every sub-module's parameters reset (the same architecture at init)."""
    torch.manual_seed(seed)
    fresh = copy.deepcopy(model)
    for module in fresh.modules():
        if hasattr(module, "reset_parameters") and module is not fresh:
            module.reset_parameters()
    return fresh

"""Build the recurrent cells and layers the inspection tools look at, by name.

Names: "rnn" (tanh Elman), "lstm", "gru", and for layers also "lnlstm" (the layer-norm LSTM cell run
through the generic `rnnlab.nn.Recurrent` layer). Everything returned follows torch.nn's contracts, so the
tools below work the same on torch.nn modules.
The layers take torch's fused kernel where they can (speed) and the explicit path when gates are recorded.
"""

from __future__ import annotations

from torch import nn

import rnnlab.nn as rnn_nn
from rnnlab.errors import ConfigError

CELL_NAMES = ("rnn", "lstm", "gru")
LAYER_NAMES = ("rnn", "lstm", "gru", "lnlstm")


def check_name(name: str, allowed: tuple[str, ...]) -> str:
    if name not in allowed:
        raise ConfigError(f"unknown cell {name!r}; expected one of {', '.join(allowed)}")
    return name


def make_cell(name: str, input_size: int, hidden_size: int) -> nn.Module:
    """A single cell: `cell(x (N, H_in), state) -> state` (state h, or (h, c) for the LSTM)."""
    module = rnn_nn
    classes = {"rnn": module.RNNCell, "lstm": module.LSTMCell, "gru": module.GRUCell}
    return classes[check_name(name, CELL_NAMES)](input_size, hidden_size)


def make_layer(name: str, input_size: int, hidden_size: int, batch_first: bool = True) -> nn.Module:
    """A one-layer recurrent layer with torch.nn's forward contract (fused kernel where possible)."""
    module = rnn_nn
    name = check_name(name, LAYER_NAMES)
    if name == "lnlstm":
        return module.Recurrent(module.LayerNormLSTMCell, input_size, hidden_size, batch_first=batch_first)
    classes = {"rnn": module.RNN, "lstm": module.LSTM, "gru": module.GRU}
    return classes[name](input_size, hidden_size, batch_first=batch_first)


def state_hidden(state):
    """The hidden state h of a cell's state (h for RNN/GRU, h of (h, c) for the LSTM)."""
    return state[0] if isinstance(state, tuple) else state

"""Build the recurrent cells and layers the inspection tools look at, by name.

Names: "rnn" (tanh Elman), "lstm", "gru", and for layers also "lnlstm" (the layer-norm LSTM cell run
through the generic `rnnlab.nn.Recurrent` layer). Everything returned follows torch.nn's contracts, so the
tools below work the same on torch.nn modules.
"""

from __future__ import annotations

from torch import nn

from rnnlab.errors import ConfigError

CELL_NAMES = ("rnn", "lstm", "gru")
LAYER_NAMES = ("rnn", "lstm", "gru", "lnlstm")

# Gate names in the order the stacked weight matrices hold them (torch's parameterisation).
GATE_ORDER = {"rnn": ("h",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}


def _nn():
    """rnnlab.nn when the core layers are available, else torch.nn (same contract)."""
    try:
        import rnnlab.nn as rnn_nn

        if hasattr(rnn_nn, "LSTMCell"):
            return rnn_nn
    except ImportError:  # pragma: no cover - core not installed
        pass
    return nn


def check_name(name: str, allowed: tuple[str, ...]) -> str:
    if name not in allowed:
        raise ConfigError(f"unknown cell {name!r}; expected one of {', '.join(allowed)}")
    return name


def make_cell(name: str, input_size: int, hidden_size: int) -> nn.Module:
    """A single cell: `cell(x (N, H_in), state) -> state` (state h, or (h, c) for the LSTM)."""
    module = _nn()
    classes = {"rnn": module.RNNCell, "lstm": module.LSTMCell, "gru": module.GRUCell}
    return classes[check_name(name, CELL_NAMES)](input_size, hidden_size)


def make_layer(name: str, input_size: int, hidden_size: int, batch_first: bool = True) -> nn.Module:
    """A one-layer recurrent layer with torch.nn's forward contract (fused kernel where possible)."""
    module = _nn()
    name = check_name(name, LAYER_NAMES)
    if name == "lnlstm":
        if not hasattr(module, "LayerNormLSTMCell"):
            raise ConfigError("cell 'lnlstm' needs rnnlab.nn.LayerNormLSTMCell, which is not available")
        return module.Recurrent(module.LayerNormLSTMCell, input_size, hidden_size, batch_first=batch_first)
    classes = {"rnn": module.RNN, "lstm": module.LSTM, "gru": module.GRU}
    return classes[name](input_size, hidden_size, batch_first=batch_first)


def state_hidden(state):
    """The hidden state h of a cell's state (h for RNN/GRU, h of (h, c) for the LSTM)."""
    return state[0] if isinstance(state, tuple) else state

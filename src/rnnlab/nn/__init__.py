"""Building blocks, each a torch.nn.Module with no I/O.

Cells with explicit gate math (`RNNCell`, `LSTMCell`, `GRUCell`, and the user-cell example
`LayerNormLSTMCell`), drop-in recurrent layers (`RNN`, `LSTM`, `GRU`), the generic `Recurrent` layer for
custom cells, and `record_gates` for gate traces.
"""

from rnnlab.nn.cells import (
    GATE_ROLES,
    GRUCell,
    LSTMCell,
    RecurrentCell,
    RNNCell,
    gru_step,
    lstm_step,
    rnn_step,
)
from rnnlab.nn.layernorm_lstm import LayerNormLSTMCell
from rnnlab.nn.recurrent import (
    CELL_NAMES,
    GRU,
    LSTM,
    RNN,
    GateRecorder,
    GateTrace,
    Recurrent,
    make_recurrent,
    record_gates,
)

__all__ = [
    "CELL_NAMES",
    "make_recurrent",
    "GATE_ROLES",
    "GRU",
    "GRUCell",
    "GateRecorder",
    "GateTrace",
    "LSTM",
    "LSTMCell",
    "LayerNormLSTMCell",
    "RNN",
    "RNNCell",
    "RecurrentCell",
    "Recurrent",
    "gru_step",
    "lstm_step",
    "record_gates",
    "rnn_step",
]

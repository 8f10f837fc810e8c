"""Building blocks, each a torch.nn.Module with no I/O.

Cells with explicit gate math (`RNNCell`, `LSTMCell`, `GRUCell`, and the user-cell example
`LayerNormLSTMCell`), drop-in recurrent layers (`RNN`, `LSTM`, `GRU`), the generic `Recurrent` layer for
custom cells, `record_gates` for gate traces, and the cell registry (`register_cell`, `get_cell`,
`cell_names`, `make_recurrent`: every cell by name, in one place), and the recursive networks over trees
(`Tree`, `batch_trees`, `RecursiveNet`, `ChildSumTreeLSTM`, `NaryTreeLSTM`; import path `rnnlab.nn.trees`).

The models built from them live here too, one file each: `language_model.RNNLanguageModel`,
`seq2seq.Seq2Seq`, `tagger.BiRNNTagger`, `classifier.BiRNNClassifier`, `cloze.BiCloze` (import them
from their modules).
"""

from rnnlab.nn.cell_registry import (
    CellSpec,
    cell_names,
    get_cell,
    make_recurrent,
    register_cell,
    unregister_cell,
)
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
from rnnlab.nn.padded import run_padded
from rnnlab.nn.recurrent import (
    GRU,
    LSTM,
    RNN,
    GateRecorder,
    GateTrace,
    Recurrent,
    record_gates,
    run_packed,
)
from rnnlab.nn.trees import (
    ChildSumTreeLSTM,
    NaryTreeLSTM,
    RecursiveNet,
    Tree,
    TreeBatch,
    TreeSyntaxError,
    batch_trees,
)

__all__ = [
    "CellSpec",
    "cell_names",
    "get_cell",
    "make_recurrent",
    "register_cell",
    "unregister_cell",
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
    "run_packed",
    "run_padded",
    "ChildSumTreeLSTM",
    "NaryTreeLSTM",
    "RecursiveNet",
    "Tree",
    "TreeBatch",
    "TreeSyntaxError",
    "batch_trees",
]

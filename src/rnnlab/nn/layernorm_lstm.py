"""A user-written cell: the layer-normalised LSTM (Ba, Kiros & Hinton 2016).

This file is the worked example of the cell protocol (`rnnlab.nn.cells.RecurrentCell`): a cell needs
``input_size``, ``hidden_size``, ``state_is_tuple``, ``gate_names`` and
``forward_with_gates(x, state) -> (new_state, gates)``. With that, `rnnlab.nn.Recurrent` stacks it,
runs it bidirectionally, over packed or padded variable-length batches, and records its gates::

    layer = Recurrent(LayerNormLSTMCell, input_size=8, hidden_size=16, num_layers=2, bidirectional=True)
    output, (h_n, c_n) = layer(x)

One `register_cell` call (in `rnnlab.nn.cell_registry`, as "lnlstm") makes it a cell every model and
`rnnlab inspect` accept by name.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from rnnlab.nn.cells import Gates, RecurrentCell


class LayerNormLSTMCell(RecurrentCell):
    """LSTM whose gate pre-activations and memory cell are layer-normalised.

    ``[i, f, g, o] = LN(W_ih x) + LN(W_hh h) + b``; ``c' = f*c + i*g``; ``h' = o * tanh(LN(c'))``.
    Normalising keeps the pre-activations in the sigmoid's sensitive range, which tends to speed up
    training on long sequences. Shapes: x (N, I), h and c (N, H).
    """

    gate_names = ("i", "f", "g", "o", "c", "h")
    state_is_tuple = True

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, forget_bias: float = 1.0) -> None:
        super().__init__(input_size, hidden_size)
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.bias = nn.Parameter(torch.zeros(4 * hidden_size)) if bias else None
        self.norm_ih = nn.LayerNorm(4 * hidden_size)
        self.norm_hh = nn.LayerNorm(4 * hidden_size)
        self.norm_c = nn.LayerNorm(hidden_size)
        self.forget_bias = forget_bias
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        nn.init.uniform_(self.weight_ih, -bound, bound)
        nn.init.uniform_(self.weight_hh, -bound, bound)
        if self.bias is not None:
            with torch.no_grad():
                self.bias.zero_()
                # Start with the forget gate open so memories survive early training.
                self.bias[self.hidden_size : 2 * self.hidden_size] = self.forget_bias

    def forward_with_gates(self, x: Tensor, state: tuple[Tensor, Tensor]) -> tuple[tuple[Tensor, Tensor], Gates]:
        return self.forward_projected(self.project_input(x), state)

    def project_input(self, x: Tensor) -> Tensor:
        """``LN(W_ih x)``, which reads only the input: (..., I) -> (..., 4H), all time steps at once."""
        return self.norm_ih(x @ self.weight_ih.t())

    def forward_projected(self, x_proj: Tensor, state: tuple[Tensor, Tensor]) -> tuple[tuple[Tensor, Tensor], Gates]:
        """One step from ``x_proj = LN(W_ih x_t)`` (N, 4H) and the state (h, c), each (N, H)."""
        h, c = state
        pre = x_proj + self.norm_hh(h @ self.weight_hh.t())
        if self.bias is not None:
            pre = pre + self.bias
        i, f, g, o = pre.chunk(4, dim=1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c_new = f * c + i * g
        h_new = o * torch.tanh(self.norm_c(c_new))
        return (h_new, c_new), {"i": i, "f": f, "g": g, "o": o, "c": c_new, "h": h_new}

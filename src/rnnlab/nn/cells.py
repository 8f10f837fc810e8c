"""Recurrent cells with their gate math written out, one short function per cell.

The three `*_step` functions below are the whole mathematics of the chapter's cells. Everything else in
rnnlab (the explicit path of the stacked layers, gate traces, the inspection tools) calls them, so what
you read here is what runs.

Notation, for one time step and a batch of N sequences:

* ``x_proj = W_ih x_t + b_ih`` is the input's contribution to all gates, shape ``(N, G*H)``. The layers
  compute it for every time step at once (one big matrix product), the cells per step.
* ``h`` is the previous hidden state ``(N, H)`` (``(N, P)`` for an LSTM with a projection of size P),
  ``c`` the LSTM's previous memory cell ``(N, H)``.
* Gate order in the stacked weight matrices is torch's: LSTM ``i|f|g|o``, GRU ``r|z|n``, so state_dicts
  load both ways between ``rnnlab.nn.*Cell`` and ``torch.nn.*Cell``.

Each step returns the new state and a dict of every gate's activation ``(N, H)``: the gate trace.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Gates = dict[str, Tensor]

# What each gate does, in one line: used by docstrings, diagrams and trace plots.
GATE_ROLES: dict[str, dict[str, str]] = {
    "rnn": {"h": "hidden state h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)"},
    "lstm": {
        "i": "input gate: how much of the candidate g is written into the memory cell",
        "f": "forget gate: how much of the old memory cell c_{t-1} is kept",
        "g": "candidate: the new content proposed for the memory cell (tanh)",
        "o": "output gate: how much of tanh(c_t) is exposed as the hidden state",
        "c": "memory cell c_t = f * c_{t-1} + i * g (the LSTM's long-term memory)",
        "h": "hidden state h_t = o * tanh(c_t) (projected by W_hr when proj_size > 0)",
    },
    "gru": {
        "r": "reset gate: how much of h_{t-1} the candidate may look at",
        "z": "update gate: how much of h_{t-1} is kept instead of the candidate",
        "n": "candidate n = tanh(W_in x + b_in + r * (W_hn h + b_hn))",
        "h": "hidden state h_t = (1 - z) * n + z * h_{t-1}",
    },
}


def _linear(h: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    return F.linear(h, weight, bias)


def rnn_step(
    x_proj: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None, nonlinearity: str = "tanh"
) -> tuple[Tensor, Gates]:
    """Elman RNN: ``h_t = act(x_proj + W_hh h_{t-1} + b_hh)``. Shapes: x_proj (N, H), h (N, H)."""
    pre_activation = x_proj + _linear(h, weight_hh, bias_hh)
    h_new = torch.tanh(pre_activation) if nonlinearity == "tanh" else torch.relu(pre_activation)
    return h_new, {"h": h_new}


def lstm_step(
    x_proj: Tensor,
    h: Tensor,
    c: Tensor,
    weight_hh: Tensor,
    bias_hh: Tensor | None,
    weight_hr: Tensor | None = None,
) -> tuple[Tensor, Tensor, Gates]:
    """LSTM: gates from the input and the previous hidden state, then the memory cell update.

    Shapes: x_proj (N, 4H), h (N, P or H), c (N, H); returns h_t (N, P or H), c_t (N, H), gates.
    """
    i, f, g, o = (x_proj + _linear(h, weight_hh, bias_hh)).chunk(4, dim=1)
    i = torch.sigmoid(i)  # input gate
    f = torch.sigmoid(f)  # forget gate
    g = torch.tanh(g)  # candidate memory content
    o = torch.sigmoid(o)  # output gate
    c_new = f * c + i * g  # keep some old memory, write some new
    h_new = o * torch.tanh(c_new)  # expose part of the memory
    if weight_hr is not None:  # LSTM with projections (proj_size > 0): h_t = W_hr h_t
        h_new = h_new @ weight_hr.t()
    return h_new, c_new, {"i": i, "f": f, "g": g, "o": o, "c": c_new, "h": h_new}


def gru_step(x_proj: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None) -> tuple[Tensor, Gates]:
    """GRU with torch's candidate formula ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``.

    Shapes: x_proj (N, 3H), h (N, H); returns h_t (N, H), gates.
    """
    x_r, x_z, x_n = x_proj.chunk(3, dim=1)
    h_r, h_z, h_n = _linear(h, weight_hh, bias_hh).chunk(3, dim=1)
    r = torch.sigmoid(x_r + h_r)  # reset gate
    z = torch.sigmoid(x_z + h_z)  # update gate
    n = torch.tanh(x_n + r * h_n)  # candidate state; the reset gate scales the recurrent part only
    h_new = (1 - z) * n + z * h  # interpolate between candidate and old state
    return h_new, {"r": r, "z": z, "n": n, "h": h_new}


class RecurrentCell(nn.Module):
    """Base of rnnlab's cells and the protocol a user-written cell follows to run in `rnnlab.nn.Recurrent`.

    A cell has ``input_size``, ``hidden_size``, ``state_is_tuple`` (True for LSTM-like (h, c) states),
    ``gate_names``, and implements ``forward_with_gates(x (N, I), state) -> (new_state, gates)``.
    ``output_size`` is the size of h (the hidden size unless the cell projects).
    """

    gate_names: tuple[str, ...] = ()
    state_is_tuple: bool = False

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        if input_size <= 0 or hidden_size <= 0:
            raise ValueError(
                f"{type(self).__name__}: input_size and hidden_size must be positive, "
                f"got {input_size} and {hidden_size}"
            )
        self.input_size = input_size
        self.hidden_size = hidden_size

    @property
    def output_size(self) -> int:
        return self.hidden_size

    def init_state(self, batch_size: int, *, device=None, dtype=None) -> Tensor | tuple[Tensor, Tensor]:
        """Zero initial state: h (N, output_size), plus c (N, H) for tuple states."""
        h = torch.zeros(batch_size, self.output_size, device=device, dtype=dtype)
        if self.state_is_tuple:
            return h, torch.zeros(batch_size, self.hidden_size, device=device, dtype=dtype)
        return h

    def forward_with_gates(self, x: Tensor, state) -> tuple[Tensor | tuple[Tensor, Tensor], Gates]:
        raise NotImplementedError

    def project_input(self, x: Tensor) -> Tensor:
        """Optional: the part of a step that reads the input alone, for a whole sequence at once.

        ``x (L, N, I) -> (L, N, ·)``. The stacked layers call it once per sequence (one big matrix product
        instead of one per step) and then `forward_projected` per step. The default is ``x`` itself with
        `forward_projected` = `forward_with_gates`, so a cell that does not split its step still works.
        """
        return x

    def forward_projected(self, x_proj: Tensor, state) -> tuple[Tensor | tuple[Tensor, Tensor], Gates]:
        """One step from `project_input`'s output at one time step (N, ·); see `project_input`."""
        return self.forward_with_gates(x_proj, state)

    def forward(self, input: Tensor, hx=None):
        """torch.nn.*Cell contract: input (N, I) or unbatched (I,); returns the new state."""
        x, state, unbatched = self._check_call(input, hx)
        new_state, _ = self.forward_with_gates(x, state)
        if unbatched:
            return tuple(s.squeeze(0) for s in new_state) if self.state_is_tuple else new_state.squeeze(0)
        return new_state

    def _check_call(self, input: Tensor, hx):
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
        if not input.is_floating_point():
            raise TypeError(f"{name}: input must be a floating-point tensor, got {input.dtype}")
        if input.dim() not in (1, 2):
            raise ValueError(
                f"{name}: expected input of shape (N, {self.input_size}) or ({self.input_size},), "
                f"got {tuple(input.shape)}"
            )
        unbatched = input.dim() == 1
        x = input.unsqueeze(0) if unbatched else input
        if x.shape[1] != self.input_size:
            raise ValueError(
                f"{name}: expected input feature size {self.input_size}, got {x.shape[1]} "
                f"(input shape {tuple(input.shape)})"
            )
        if hx is None:
            return x, self.init_state(x.shape[0], device=x.device, dtype=x.dtype), unbatched
        parts = hx if self.state_is_tuple else (hx,)
        if self.state_is_tuple and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError(f"{name}: expected the state as a tuple (h, c)")
        expected = [(x.shape[0], self.output_size), (x.shape[0], self.hidden_size)]
        checked = []
        for part, shape, label in zip(parts, expected, ("h", "c")):
            part = part.unsqueeze(0) if unbatched and part.dim() == 1 else part
            if tuple(part.shape) != shape:
                raise ValueError(f"{name}: expected {label} of shape {shape}, got {tuple(part.shape)}")
            checked.append(part)
        return x, (tuple(checked) if self.state_is_tuple else checked[0]), unbatched


class _TorchCompatibleCell(RecurrentCell):
    """Parameters named, shaped and initialised exactly like ``torch.nn.RNNCellBase``."""

    num_chunks = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size)
        factory = {"device": device, "dtype": dtype}
        self.bias = bias
        rows = self.num_chunks * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(rows, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(rows, hidden_size, **factory))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(rows, **factory))
            self.bias_hh = nn.Parameter(torch.empty(rows, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's initialisation: every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)

    def input_projection(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight_ih, self.bias_ih)


class RNNCell(_TorchCompatibleCell):
    """Elman cell, ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`` (or relu). Drop-in for torch.nn.RNNCell."""

    gate_names = ("h",)

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh", device=None, dtype=None
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward_with_gates(self, x: Tensor, state: Tensor) -> tuple[Tensor, Gates]:
        return rnn_step(self.input_projection(x), state, self.weight_hh, self.bias_hh, self.nonlinearity)


class LSTMCell(_TorchCompatibleCell):
    """LSTM cell with input/forget/output gates and memory cell. Drop-in for torch.nn.LSTMCell."""

    gate_names = ("i", "f", "g", "o", "c", "h")
    state_is_tuple = True
    num_chunks = 4

    def forward_with_gates(self, x: Tensor, state: tuple[Tensor, Tensor]) -> tuple[tuple[Tensor, Tensor], Gates]:
        h, c = state
        h_new, c_new, gates = lstm_step(self.input_projection(x), h, c, self.weight_hh, self.bias_hh)
        return (h_new, c_new), gates


class GRUCell(_TorchCompatibleCell):
    """GRU cell with reset and update gates. Drop-in for torch.nn.GRUCell."""

    gate_names = ("r", "z", "n", "h")
    num_chunks = 3

    def forward_with_gates(self, x: Tensor, state: Tensor) -> tuple[Tensor, Gates]:
        return gru_step(self.input_projection(x), state, self.weight_hh, self.bias_hh)

"""Stacked, bidirectional recurrent layers: drop-in replacements for torch.nn.RNN / LSTM / GRU.

Two execution paths, one truth:

* the **fused** path hands the computation to torch's own kernels (cuDNN on GPU, oneDNN on CPU). Our
  `RNN`, `LSTM` and `GRU` subclass torch's, so parameter names (``weight_ih_l{k}[_reverse]`` ...), shapes,
  initialisation and the fused call are exactly torch's; a one-step CPU input (a decoder feeding a token
  at a time) runs on torch's cell functions instead, which cost less than the sequence kernel there;
* the **explicit** path steps the cell functions of `rnnlab.nn.cells` in Python, one time step at a time.
  It is the readable reference, it records gate traces, and it runs user-written cells (`Recurrent`).

* the **compiled** path (``path="compiled"``) is the explicit path's loop compiled by torch.compile, a
  chunk of steps per call (`rnnlab.nn.compiled`): near fused speed for cells without a fused kernel, after
  a one-off compile per shape family. Where compilation is unavailable it warns once and runs explicit.

``path="auto"`` (the default) takes the fused path unless gates are being recorded, and the explicit path
for cells without a fused kernel (compile time is seconds to minutes, so compiling is opt-in; see
docs/layers.md); ``"fused"``, ``"explicit"`` and ``"compiled"`` force one. Gate traces always run explicit.
Tests prove the paths give the same outputs, states and gradients.

Shapes follow torch: input ``(L, N, H_in)`` (``(N, L, H_in)`` when ``batch_first``), unbatched
``(L, H_in)``, or a ``PackedSequence``; states ``(D * num_layers, N, H_out)`` layer-major with direction 0
forward; outputs ``(L, N, D * H_out)`` with features ``[forward ‖ reverse]``. ``H_out`` is ``proj_size``
for a projected LSTM, else ``hidden_size``. As an extension, ``forward(input, hx, lengths=...)`` takes a
padded batch plus its lengths; padded positions never reach the final states and come out as zeros.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnlab.nn import compiled as _compiled
from rnnlab.nn.cells import Gates, RecurrentCell, gru_step, lstm_step, rnn_step

ExecutionPath = Literal["auto", "fused", "explicit", "compiled"]
PATHS = ("auto", "fused", "explicit", "compiled")
State = tuple[Tensor, ...]  # (h,) or (h, c), each (N, ·)
GateTrace = dict[tuple[int, int], dict[str, Tensor]]  # (layer, direction) -> gate -> (L, N, H)
# project: input sequence (L, N, I) -> what `step` consumes per time step (L, N, ·)
# step: (projected input at t (N, ·), state) -> (new state, gates)
DirectionStep = tuple[Callable[[Tensor], Tensor], Callable[[Tensor, State], tuple[State, Gates]]]


@dataclass
class _Batch:
    """An input normalised to a time-major padded tensor plus what is needed to restore the caller's layout."""

    x: Tensor  # (L, N, I)
    lengths: Tensor | None  # (N,) int64 on x.device, None when every sequence has length L
    packed: PackedSequence | None  # the packed input, to pack the output the same way
    unbatched: bool
    pad_output: bool  # a `lengths=` call: outputs at padded positions are zeroed


# ----------------------------------------------------------------------------------------------- checks
def _prepare_input(layer, input, lengths: Tensor | None) -> _Batch:
    name = type(layer).__name__
    packed = None
    if isinstance(input, PackedSequence):
        if lengths is not None:
            raise ValueError(f"{name}: pass lengths either inside the PackedSequence or as lengths=, not both")
        packed = input
        x, lengths = pad_packed_sequence(input)  # (L, N, I) in the caller's batch order
        unbatched = False
    else:
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor or PackedSequence, got {type(input).__name__}")
        if input.dim() not in (2, 3):
            layout = "(N, L, H_in)" if layer.batch_first else "(L, N, H_in)"
            raise ValueError(
                f"{name}: expected input of shape {layout} or unbatched (L, H_in) with H_in = "
                f"{layer.input_size}, got a {input.dim()}-D tensor of shape {tuple(input.shape)}"
            )
        unbatched = input.dim() == 2
        if unbatched:
            x = input.unsqueeze(1)
        else:
            x = input.transpose(0, 1) if layer.batch_first else input
    if not x.is_floating_point():
        raise TypeError(f"{name}: input must be a floating-point tensor, got {x.dtype} (embed token ids first)")
    weight_dtype = next(layer.parameters()).dtype
    if x.dtype != weight_dtype:
        raise TypeError(f"{name}: input dtype {x.dtype} does not match the layer's parameters ({weight_dtype})")
    if x.shape[-1] != layer.input_size:
        raise ValueError(
            f"{name}: expected input feature size H_in = {layer.input_size}, got {x.shape[-1]} "
            f"(input shape {tuple(input.shape) if isinstance(input, Tensor) else tuple(x.shape)})"
        )
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name}: empty input of shape {tuple(x.shape)}; need at least one step and one sequence")
    pad_output = False
    if lengths is not None and packed is None:
        if unbatched:
            raise ValueError(f"{name}: lengths= needs a batched input, got an unbatched (L, H_in) tensor")
        lengths = torch.as_tensor(lengths)
        if lengths.dim() != 1 or lengths.shape[0] != x.shape[1]:
            raise ValueError(f"{name}: expected lengths of shape ({x.shape[1]},), got {tuple(lengths.shape)}")
        if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
            raise TypeError(f"{name}: lengths must be integers, got {lengths.dtype}")
        if int(lengths.min()) < 1 or int(lengths.max()) > x.shape[0]:
            raise ValueError(
                f"{name}: every length must be in [1, {x.shape[0]}] (the sequence length), "
                f"got min {int(lengths.min())} and max {int(lengths.max())}"
            )
        pad_output = True
    if lengths is not None:
        lengths = lengths.to(device=x.device, dtype=torch.long)
        if bool((lengths == x.shape[0]).all()) and not pad_output:
            lengths = None
    return _Batch(x=x, lengths=lengths, packed=packed, unbatched=unbatched, pad_output=pad_output)


def _prepare_state(layer, hx, batch: _Batch) -> State:
    """Validate the initial state and return it as (h0,) or (h0, c0), each (D * num_layers, N, ·)."""
    name = type(layer).__name__
    batch_size = batch.x.shape[1]
    stack = layer.num_layers * (2 if layer.bidirectional else 1)
    shapes = [(stack, batch_size, layer.output_size)]
    if layer.state_is_tuple:
        shapes.append((stack, batch_size, layer.hidden_size))
    if hx is None:
        return tuple(batch.x.new_zeros(shape) for shape in shapes)
    if layer.state_is_tuple:
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"{name}: expected the initial state as a tuple (h_0, c_0), got {type(hx).__name__}")
        parts = tuple(hx)
    else:
        if not isinstance(hx, Tensor):
            raise TypeError(f"{name}: expected the initial state h_0 as a Tensor, got {type(hx).__name__}")
        parts = (hx,)
    checked = []
    for part, shape, label in zip(parts, shapes, ("h_0", "c_0")):
        if batch.unbatched and part.dim() == 2:
            part = part.unsqueeze(1)
        if tuple(part.shape) != shape:
            want = (shape[0], shape[2]) if batch.unbatched else shape
            raise ValueError(f"{name}: expected {label} of shape {want} (D*num_layers, N, H), got {tuple(part.shape)}")
        if part.dtype != batch.x.dtype and torch.is_autocast_enabled(batch.x.device.type):
            # Under autocast a state carried from the last window comes back in bf16/fp16 while the next
            # window's input is fp32: give it the input's dtype (autocast lowers both again inside the layer).
            part = part.to(batch.x.dtype)
        if part.dtype != batch.x.dtype:
            raise TypeError(f"{name}: {label} dtype {part.dtype} does not match the input's {batch.x.dtype}")
        checked.append(part)
    return tuple(checked)


def _restore_output(layer, batch: _Batch, output: Tensor, state: State):
    """Return (output, h_n) or (output, (h_n, c_n)) in the caller's layout."""
    if batch.packed is not None:
        packed = batch.packed
        order = packed.sorted_indices
        lengths = batch.lengths if batch.lengths is not None else torch.full((output.shape[1],), output.shape[0])
        lengths = lengths.cpu()
        if order is not None:
            output, lengths = output.index_select(1, order), lengths.index_select(0, order.cpu())
        data = pack_padded_sequence(output, lengths, enforce_sorted=True).data
        result = PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
    elif batch.unbatched:
        result = output.squeeze(1)
        state = tuple(s.squeeze(1) for s in state)
    else:
        result = output.transpose(0, 1) if layer.batch_first else output
    final = state if layer.state_is_tuple else state[0]
    return result, final


# ---------------------------------------------------------------------------------------- explicit path
def run_direction(
    inputs: Tensor, step, state: State, lengths: Tensor | None, reverse: bool
) -> tuple[Tensor, State, dict[str, Tensor]]:
    """Step one cell over a sequence in one direction.

    inputs (L, N, ·) already projected if the step expects it; state (h, [c]) each (N, ·); lengths (N,)
    or None. Returns outputs (L, N, H_out), the final state, and the gates stacked to (L, N, ·).
    Positions at or past a sequence's length neither update its state nor produce output (zeros), so the
    reverse direction of a short sequence starts at its own last element.
    """
    steps = inputs.shape[0]
    outputs: list[Tensor | None] = [None] * steps
    gate_steps: list[Gates | None] = [None] * steps
    for t in reversed(range(steps)) if reverse else range(steps):
        new_state, gates = step(inputs[t], state)
        h = new_state[0]
        if lengths is not None:
            valid = (lengths > t).unsqueeze(1)  # (N, 1)
            new_state = tuple(torch.where(valid, new, old) for new, old in zip(new_state, state))
            h = torch.where(valid, h, torch.zeros_like(h))
            gates = {key: torch.where(valid, value, torch.zeros_like(value)) for key, value in gates.items()}
        state = new_state
        outputs[t] = h
        gate_steps[t] = gates
    stacked_gates = {key: torch.stack([g[key] for g in gate_steps]) for key in gate_steps[0]}
    return torch.stack(outputs), state, stacked_gates


def explicit_forward(
    layer, batch: _Batch, state: State, trace: GateTrace | None, compiled: bool = False, cell_functions: bool = False
) -> tuple[Tensor, State]:
    """Run all layers and directions with Python-stepped cells (``compiled``: chunks of steps compiled by
    torch.compile, no trace; ``cell_functions``: torch's own cell functions, no trace, the fused layers'
    single-step path). Returns output (L, N, D*H_out), final state."""
    directions = 2 if layer.bidirectional else 1
    layer_input = batch.x
    finals: list[State] = []
    for index in range(layer.num_layers):
        if index > 0 and layer.dropout > 0 and layer.training:  # between layers only, only in training
            layer_input = F.dropout(layer_input, layer.dropout, training=True)
        outputs = []
        for direction in range(directions):
            slot = index * directions + direction
            initial = tuple(s[slot] for s in state)
            if compiled:
                project, chunk, weights = layer._compiled_step(index, direction)
                out, final = _compiled.run_direction_compiled(
                    project(layer_input), chunk, weights, initial, batch.lengths, direction == 1
                )
            else:
                direction_step = layer._cell_function_step if cell_functions else layer._direction_step
                project, step = direction_step(index, direction)
                out, final, gates = run_direction(project(layer_input), step, initial, batch.lengths, direction == 1)
                if trace is not None:
                    trace[(index, direction)] = gates
            outputs.append(out)
            finals.append(final)
        layer_input = torch.cat(outputs, dim=2) if directions == 2 else outputs[0]
    final_state = tuple(torch.stack([f[k] for f in finals]) for k in range(len(state)))
    return layer_input, final_state


class _RecorderHandle:
    """Where `record_gates` asks a layer to put its traces."""

    def __init__(self, recorder: GateRecorder, name: str) -> None:
        self.recorder, self.name = recorder, name


class _LayerMixin:
    """The shared forward logic of rnnlab's recurrent layers (both paths, traces, checks)."""

    _gate_recorder: _RecorderHandle | None = None
    path: ExecutionPath = "auto"

    @property
    def output_size(self) -> int:
        return getattr(self, "proj_size", 0) or self.hidden_size

    def forward(self, input, hx=None, lengths: Tensor | None = None):
        """torch.nn contract; ``lengths`` (N,) optionally marks the true lengths of a padded batch."""
        handle = self._gate_recorder
        if handle is None and self.path == "compiled":
            return self._compiled_forward(input, hx, lengths)
        if handle is not None or self.path == "explicit" or not self._fusable():
            output, state, trace = self._explicit(input, hx, lengths, want_trace=handle is not None)
            if handle is not None:
                handle.recorder._add(handle.name, trace)
            return output, state
        return self._fused(input, hx, lengths)

    def forward_with_gates(self, input, hx=None, lengths: Tensor | None = None):
        """Like forward, on the explicit path, plus the gate trace: ``trace[(layer, direction)][gate]`` is
        a ``(L, N, H)`` tensor (time-major, whatever ``batch_first`` says; N = 1 for unbatched input)."""
        return self._explicit(input, hx, lengths, want_trace=True)

    def _explicit(self, input, hx, lengths, want_trace: bool):
        batch = _prepare_input(self, input, lengths)
        state = _prepare_state(self, hx, batch)
        trace: GateTrace | None = {} if want_trace else None
        output, final = explicit_forward(self, batch, state, trace)
        output, final = _restore_output(self, batch, output, final)
        return output, final, trace

    def _compiled_forward(self, input, hx, lengths):
        batch = _prepare_input(self, input, lengths)
        state = _prepare_state(self, hx, batch)
        reason = _compiled.compile_unavailable_reason()
        if reason is None:
            try:
                output, final = explicit_forward(self, batch, state, None, compiled=True)
                return _restore_output(self, batch, output, final)
            except _compiled.CompileUnavailable as error:
                reason = str(error)
        _compiled.warn_fallback(type(self).__name__, reason)
        output, final = explicit_forward(self, batch, state, None)
        return _restore_output(self, batch, output, final)

    def _fusable(self) -> bool:
        return True

    def _fused(self, input, hx, lengths):
        if isinstance(input, PackedSequence) and lengths is None:
            # Check without unpacking (a copy of the whole batch): features and dtype of the packed data,
            # and the state against the batch size, which is the first time step's batch size.
            data = input.data
            shape = (1, int(input.batch_sizes[0]), data.shape[-1])
            probe = data.new_empty(shape[1::-1] + shape[2:] if self.batch_first else shape) if data.dim() == 2 else data
            batch = _prepare_input(self, probe, None)
            _prepare_state(self, hx, batch)
            return super().forward(input, hx)
        batch = _prepare_input(self, input, lengths)  # same checks as the explicit path
        state = _prepare_state(self, hx, batch)
        if _single_step_applies(self, batch):
            return _restore_output(self, batch, *explicit_forward(self, batch, state, None, cell_functions=True))
        if not batch.pad_output:
            return super().forward(input, hx)
        # A padded batch with lengths: pack it for the kernel, then pad the output back to length L.
        x = input.transpose(0, 1) if self.batch_first else input
        packed = pack_padded_sequence(x, batch.lengths.cpu(), enforce_sorted=False)
        output, state = super().forward(packed, hx)
        output, _ = pad_packed_sequence(output, total_length=x.shape[0])
        return (output.transpose(0, 1) if self.batch_first else output), state


def _single_step_applies(layer, batch: _Batch) -> bool:
    """Whether a fused call is one time step that torch's cell functions run faster than its sequence kernel:
    a batched CPU input of length 1 (a decoder or sampler stepping a token at a time), no projections, no
    autocast. On CPU the oneDNN LSTM kernel costs 2.5-4x `torch.lstm_cell` for one step with autograd
    (forward + backward; about the same without), GRU and RNN 5-20% more (docs/layers.md)."""
    return (batch.x.shape[0] == 1 and batch.packed is None and not batch.unbatched and not batch.pad_output
            and batch.x.device.type == "cpu" and not getattr(layer, "proj_size", 0)
            and not torch.is_autocast_enabled("cpu"))  # fmt: skip


def _check_path(path: str) -> ExecutionPath:
    if path not in PATHS:
        raise ValueError(f"path must be 'auto', 'fused', 'explicit' or 'compiled', got {path!r}")
    return path  # type: ignore[return-value]


class _TorchLayer(_LayerMixin):
    """torch's layer plus the `path` argument; parameter lookup by torch's names for the explicit path."""

    def __init__(self, *args, path: ExecutionPath = "auto", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.path = _check_path(path)

    def _weights(self, index: int, direction: int) -> dict[str, Tensor | None]:
        suffix = f"_l{index}" + ("_reverse" if direction == 1 else "")
        return {
            name: getattr(self, f"{name}{suffix}", None)
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
        }

    def _cell_function_step(self, index: int, direction: int) -> DirectionStep:
        """(identity, step) on torch's own cell function (`torch.lstm_cell` / `gru_cell` / `rnn_tanh_cell` /
        `rnn_relu_cell`, what `nn.LSTMCell` & co. call), which reads the raw input: the single-step path."""
        w = self._weights(index, direction)
        weights = (w["weight_ih"], w["weight_hh"], w["bias_ih"], w["bias_hh"])
        if isinstance(self, nn.LSTM):
            cell = lambda x, state: torch.lstm_cell(x, state, *weights)  # noqa: E731
        else:
            function = (torch.gru_cell if isinstance(self, nn.GRU) else
                        torch.rnn_tanh_cell if self.nonlinearity == "tanh" else torch.rnn_relu_cell)  # fmt: skip
            cell = lambda x, state: (function(x, state[0], *weights),)  # noqa: E731
        return (lambda x: x), (lambda x, state: (cell(x, state), {}))

    def _compiled_step(self, index: int, direction: int):
        """(project, compiled-chunk function, its weights) for the compiled path."""
        w = self._weights(index, direction)
        project = lambda x: F.linear(x, w["weight_ih"], w["bias_ih"])  # noqa: E731
        if isinstance(self, nn.LSTM):
            return project, _compiled.lstm_chunk, (w["weight_hh"], w["bias_hh"], w["weight_hr"])
        if isinstance(self, nn.GRU):
            return project, _compiled.gru_chunk, (w["weight_hh"], w["bias_hh"])
        return project, _compiled.rnn_chunk, (w["weight_hh"], w["bias_hh"], self.nonlinearity)


class RNN(_TorchLayer, nn.RNN):
    """Elman RNN layer (tanh or relu), stacked and bidirectional. Drop-in for ``torch.nn.RNN``.

    Extra keyword: ``path`` ("auto" | "fused" | "explicit" | "compiled"), the execution path.
    """

    state_is_tuple = False

    def _direction_step(self, index: int, direction: int) -> DirectionStep:
        w = self._weights(index, direction)
        nonlinearity = self.nonlinearity

        def step(x_proj: Tensor, state: State) -> tuple[State, Gates]:
            h, gates = rnn_step(x_proj, state[0], w["weight_hh"], w["bias_hh"], nonlinearity)
            return (h,), gates

        return (lambda x: F.linear(x, w["weight_ih"], w["bias_ih"])), step


class LSTM(_TorchLayer, nn.LSTM):
    """LSTM layer, stacked, bidirectional, optional projections. Drop-in for ``torch.nn.LSTM``.

    Extra keyword: ``path`` ("auto" | "fused" | "explicit" | "compiled"), the execution path.
    """

    state_is_tuple = True

    def _direction_step(self, index: int, direction: int) -> DirectionStep:
        w = self._weights(index, direction)

        def step(x_proj: Tensor, state: State) -> tuple[State, Gates]:
            h, c, gates = lstm_step(x_proj, state[0], state[1], w["weight_hh"], w["bias_hh"], w["weight_hr"])
            return (h, c), gates

        return (lambda x: F.linear(x, w["weight_ih"], w["bias_ih"])), step


class GRU(_TorchLayer, nn.GRU):
    """GRU layer, stacked and bidirectional. Drop-in for ``torch.nn.GRU``.

    Extra keyword: ``path`` ("auto" | "fused" | "explicit" | "compiled"), the execution path.
    """

    state_is_tuple = False

    def _direction_step(self, index: int, direction: int) -> DirectionStep:
        w = self._weights(index, direction)

        def step(x_proj: Tensor, state: State) -> tuple[State, Gates]:
            h, gates = gru_step(x_proj, state[0], w["weight_hh"], w["bias_hh"])
            return (h,), gates

        return (lambda x: F.linear(x, w["weight_ih"], w["bias_ih"])), step


class Recurrent(_LayerMixin, nn.Module):
    """A stacked (bi)directional layer over any cell that follows `rnnlab.nn.cells.RecurrentCell`.

    ``cell_factory(input_size, hidden_size, **cell_kwargs)`` builds one cell per layer and direction; they
    live in ``self.cells["l{k}"]`` / ``["l{k}_reverse"]``. Same call contract as `LSTM` (tuple-state
    cells) or `GRU` (tensor-state cells). ``path``: "auto" or "explicit" (Python-stepped) or "compiled"
    (torch.compile, `rnnlab.nn.compiled`); there is no fused kernel.

    Shapes: input (L, N, input_size) or batch-first / unbatched / packed; output (L, N, D * H_out).
    """

    def __init__(
        self,
        cell_factory: Callable[..., RecurrentCell],
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        path: ExecutionPath = "auto",
        **cell_kwargs,
    ) -> None:
        super().__init__()
        if path == "fused":
            raise ValueError("Recurrent: path 'fused' needs a fused kernel, which a custom cell does not have; "
                             "use 'auto', 'explicit' or 'compiled'")  # fmt: skip
        if num_layers < 1:
            raise ValueError(f"Recurrent: num_layers must be >= 1, got {num_layers}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"Recurrent: dropout must be in [0, 1], got {dropout}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.batch_first, self.dropout, self.bidirectional = batch_first, float(dropout), bidirectional
        self.path = "compiled" if _check_path(path) == "compiled" else "explicit"
        directions = 2 if bidirectional else 1
        self.cells = nn.ModuleDict()
        for index in range(num_layers):
            for direction in range(directions):
                in_size = input_size if index == 0 else hidden_size * directions
                cell = cell_factory(in_size, hidden_size, **cell_kwargs)
                if not isinstance(cell, RecurrentCell):
                    raise TypeError(f"Recurrent: cell_factory must build a RecurrentCell, got {type(cell).__name__}")
                self.cells[f"l{index}" + ("_reverse" if direction else "")] = cell
        first = self.cells["l0"]
        self.state_is_tuple = first.state_is_tuple
        self._output_size = first.output_size
        if num_layers > 1 and first.output_size != hidden_size:
            raise ValueError("Recurrent: stacked cells must have output_size == hidden_size")

    @property
    def output_size(self) -> int:
        return self._output_size

    def _fusable(self) -> bool:
        return False

    def _direction_step(self, index: int, direction: int) -> DirectionStep:
        cell = self.cells[f"l{index}" + ("_reverse" if direction else "")]

        def step(x_proj: Tensor, state: State) -> tuple[State, Gates]:
            new_state, gates = cell.forward_projected(x_proj, state if cell.state_is_tuple else state[0])
            return (tuple(new_state) if cell.state_is_tuple else (new_state,)), gates

        return cell.project_input, step

    def _compiled_step(self, index: int, direction: int):
        cell = self.cells[f"l{index}" + ("_reverse" if direction else "")]
        return cell.project_input, _compiled.cell_chunk, cell


def run_packed(rnn: nn.Module, inputs: Tensor, lengths: Tensor) -> Tensor:
    """Run a batch-first layer over padded inputs (N, L, H_in) so each backward direction starts at its
    row's real end (``lengths`` (N,)). Returns outputs (N, L, D * H_out) with zeros on padding."""
    packed = pack_padded_sequence(inputs, lengths.cpu(), batch_first=True, enforce_sorted=False)
    output, _ = rnn(packed)
    output, _ = pad_packed_sequence(output, batch_first=True, total_length=inputs.size(1))
    return output


# ------------------------------------------------------------------------------------------ gate traces
class GateRecorder(dict):
    """``recorder[name]`` is the gate trace of the latest call of the layer registered as ``name``
    (``""`` when the model itself is the layer); ``recorder.calls[name]`` holds every call's trace."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: dict[str, list[GateTrace]] = {}

    def _add(self, name: str, trace: GateTrace) -> None:
        self.calls.setdefault(name, []).append(trace)
        self[name] = trace


@contextmanager
def record_gates(model: nn.Module) -> Iterator[GateRecorder]:
    """Record the gates of every rnnlab recurrent layer that runs inside ``model``.

    Example::

        with record_gates(language_model) as traces:
            language_model(tokens)
        forget = traces["rnn"][(0, 0)]["f"]  # layer 0, forward direction: (L, N, H)

    While active, the layers take the explicit path (the fused kernels do not expose gates).
    """
    layers = [(name, module) for name, module in model.named_modules() if isinstance(module, _LayerMixin)]
    if not layers:
        raise ValueError(f"record_gates: {type(model).__name__} contains no rnnlab recurrent layer")
    recorder = GateRecorder()
    for name, module in layers:
        module._gate_recorder = _RecorderHandle(recorder, name)
    try:
        yield recorder
    finally:
        for _, module in layers:
            module._gate_recorder = None

"""The compiled path of the recurrent layers: the explicit path's time loop, compiled by torch.compile.

The explicit path pays Python and dispatcher overhead for every small operation of every time step, in the
forward and again in the backward pass. Compiling one step alone does not help (measured: each compiled
call carries its own autograd node and wrapper, and is slower than the plain step), and compiling the whole
loop unrolls every time step into the graph (compile time grows with the sequence length, one graph per
length). So the compiled path compiles a **chunk of ``CHUNK`` steps** (a fixed unrolled loop) once per
shape family (cell, batch size, feature sizes, grad mode) and calls it ``ceil(L / CHUNK)`` times; the last
chunk is padded with masked steps, so every sequence length reuses the same graph. Inside the chunk, the
cell's pointwise gate math and the padding masks fuse into a few kernels; the matrix products stay library
calls.

Numbers are the explicit path's: the same cell functions (`rnnlab.nn.cells`, or a `RecurrentCell`'s
``forward_with_gates``) under the same masking rules (positions at or past a sequence's length neither
update its state nor produce output, so the reverse direction starts at each sequence's own end). Gate
traces stay on the explicit path.

Where torch.compile is unavailable (no C++ compiler, an unsupported Python, a failure while compiling)
the layer warns once, in one line, and runs the explicit path.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn

from rnnlab.nn.cells import gru_step, lstm_step, rnn_step

CHUNK = 8  # time steps per compiled call: 8 keeps compile time bounded and the per-call overhead amortised
BACKEND = "inductor"  # torch.compile backend; tests use "aot_eager" (same tracing, no C++ compiler)

State = tuple[Tensor, ...]


class CompileUnavailable(RuntimeError):
    """torch.compile cannot run here; the layer falls back to the explicit path."""


def _masked_steps(step, weights, xs: Tensor, valid: Tensor, state: State) -> tuple[Tensor, State]:
    """``xs`` (K, N, ·) inputs, ``valid`` (K, N, 1) bool, ``state`` (h, [c]) each (N, ·).

    Returns the outputs (K, N, H_out), zeros where not valid, and the final state; an invalid step keeps
    the state unchanged (the explicit path's rule).
    """
    outputs = []
    for t in range(xs.shape[0]):
        new = step(xs[t], state, weights)
        keep = valid[t]
        state = tuple(torch.where(keep, n, o) for n, o in zip(new, state))
        outputs.append(torch.where(keep, new[0], torch.zeros_like(new[0])))
    return torch.stack(outputs), state


# One step function per cell kind. Each `*_chunk` wrapper is its own code object, so torch.compile keeps a
# separate cache (and recompile budget) per kind.
def _lstm(x: Tensor, state: State, weights) -> State:
    h, c, _ = lstm_step(x, state[0], state[1], *weights)
    return (h, c)


def _gru(x: Tensor, state: State, weights) -> State:
    h, _ = gru_step(x, state[0], *weights)
    return (h,)


def _rnn(x: Tensor, state: State, weights) -> State:
    weight_hh, bias_hh, nonlinearity = weights
    h, _ = rnn_step(x, state[0], weight_hh, bias_hh, nonlinearity)
    return (h,)


def _cell(x: Tensor, state: State, cell: nn.Module) -> State:
    new, _ = cell.forward_projected(x, state if cell.state_is_tuple else state[0])  # gates: dead code
    return tuple(new) if cell.state_is_tuple else (new,)


def lstm_chunk(weights, xs, valid, state):
    return _masked_steps(_lstm, weights, xs, valid, state)


def gru_chunk(weights, xs, valid, state):
    return _masked_steps(_gru, weights, xs, valid, state)


def rnn_chunk(weights, xs, valid, state):
    return _masked_steps(_rnn, weights, xs, valid, state)


def cell_chunk(weights, xs, valid, state):
    return _masked_steps(_cell, weights, xs, valid, state)


_compiled: dict[tuple[object, str], object] = {}
_unavailable: str | None = None  # why compilation failed here, once it has


def compile_unavailable_reason() -> str | None:
    """None if the compiled path may work here, else why not (checked without compiling anything)."""
    if _unavailable is not None:
        return _unavailable
    try:
        import torch._dynamo
    except Exception as error:  # pragma: no cover - torch builds without dynamo
        return f"torch._dynamo cannot be imported ({error})"
    if not torch._dynamo.is_dynamo_supported():
        return "torch.compile does not support this Python"
    return None


def _get(chunk) -> object:
    key = (chunk, BACKEND)
    if key not in _compiled:
        _compiled[key] = torch.compile(chunk, backend=BACKEND)
    return _compiled[key]


def _valid_mask(steps: int, padded: int, lengths: Tensor | None, batch: int, reverse: bool, device) -> Tensor:
    """(padded, N, 1) bool: chunk step s is real. Step s is time t = s (or L - 1 - s in reverse)."""
    s = torch.arange(padded, device=device)
    t = steps - 1 - s if reverse else s
    limit = lengths if lengths is not None else torch.full((batch,), steps, device=device)
    return ((t.unsqueeze(1) < limit.unsqueeze(0)) & (s < steps).unsqueeze(1)).unsqueeze(2)


def run_direction_compiled(
    inputs: Tensor, chunk, weights, state: State, lengths: Tensor | None, reverse: bool
) -> tuple[Tensor, State]:
    """The compiled twin of `rnnlab.nn.recurrent.run_direction` (no gates).

    inputs (L, N, ·) already projected if the step expects it; state (h, [c]) each (N, ·); lengths (N,) or
    None. Returns outputs (L, N, H_out), zeros at padded positions, and the final state.
    """
    reason = compile_unavailable_reason()
    if reason is not None:
        raise CompileUnavailable(reason)
    steps, batch = inputs.shape[:2]
    padded = -(-steps // CHUNK) * CHUNK
    xs = inputs.flip(0) if reverse else inputs
    if padded > steps:
        xs = torch.cat([xs, xs.new_zeros(padded - steps, *xs.shape[1:])])
    valid = _valid_mask(steps, padded, lengths, batch, reverse, inputs.device)
    if torch.is_grad_enabled():
        # Start from a state that requires grad, as every later chunk's does: one graph, not two.
        state = tuple(s if s.requires_grad else s.detach().requires_grad_() for s in state)
    compiled = _get(chunk)
    outputs = []
    # split, not slicing in a loop: each slice's backward would write a zero tensor of the whole input
    for xs_chunk, valid_chunk in zip(xs.split(CHUNK), valid.split(CHUNK)):
        try:
            out, state = compiled(weights, xs_chunk, valid_chunk, state)
        except Exception as error:
            if not _is_compile_failure(error):
                raise
            _mark_unavailable(error)
            raise CompileUnavailable(_unavailable) from error
        outputs.append(out)
    output = torch.cat(outputs)[:steps]
    return (output.flip(0) if reverse else output), state


def _is_compile_failure(error: Exception) -> bool:
    """True for errors of the compiler stack (dynamo, inductor, the C++ toolchain), not of the cell's math."""
    module = type(error).__module__ or ""
    return module.startswith(("torch._dynamo", "torch._inductor", "torch._subclasses")) or isinstance(
        error, (OSError, ImportError)
    )


def _mark_unavailable(error: Exception) -> None:
    global _unavailable
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    _unavailable = f"{type(error).__name__}: {first_line[:200]}"


def warn_fallback(layer_name: str, reason: str) -> None:
    """The one-line warning of a layer that asked for the compiled path and runs the explicit one."""
    warnings.warn(f"{layer_name}: compiled path unavailable ({reason}); using the explicit path", stacklevel=3)

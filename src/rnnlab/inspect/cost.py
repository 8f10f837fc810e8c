"""What BPTT costs as T grows: the memory of the states it stores and the time of its sequential steps.

Back-propagation through time needs every step's activations for the backward pass, so the memory that
autograd saves grows linearly with T (measured exactly, by summing the bytes of the tensors autograd
saves, with `torch.autograd.graph.saved_tensors_hooks`). The recurrence h_t = f(h_{t-1}, x_t) forces T
sequential steps forward and backward: the input projection W_ih x_t can be done for all t in one large
matrix product, the recurrent product W_hh h_{t-1} cannot. `sequential_vs_parallel` times the same number
of multiply-adds done as T dependent small products versus one product over all T at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch

from rnnlab.inspect.cells import make_cell, make_layer


@dataclass
class CostRow:
    length: int
    saved_megabytes: float  # tensors autograd keeps for the backward pass
    forward_backward_ms: float  # one forward + backward of the layer (median of repeats)
    sequential_ms: float  # T dependent (N, H) x (H, G*H) products
    parallel_ms: float  # the same multiply-adds as one (T*N, H) x (H, G*H) product


def saved_bytes(function) -> int:
    """Bytes of the distinct tensors autograd saves for backward while `function()` runs."""
    seen: dict[tuple[int, int], int] = {}

    def pack(tensor: torch.Tensor):
        if tensor.device.type == "cpu" or tensor.is_cuda:
            storage = tensor.untyped_storage()
            seen[(storage.data_ptr(), storage.nbytes())] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        function()
    return sum(seen.values())


def _forward(layer, inputs: torch.Tensor) -> torch.Tensor:
    return layer(inputs)[0]


def _forward_backward(layer, inputs: torch.Tensor) -> None:
    layer(inputs)[0].sum().backward()


def _sequential(step_inputs: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """T products, each needing the previous result (like W_hh h_{t-1}). step_inputs (T, N, H)."""
    hidden = step_inputs.shape[-1]
    h = step_inputs[0]
    for x in step_inputs:
        h = torch.tanh((h @ weight)[:, :hidden] + x)
    return h


def _parallel(step_inputs: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """The same multiply-adds with no dependence between steps: one (T*N, H) x (H, G*H) product."""
    hidden = step_inputs.shape[-1]
    return torch.tanh((step_inputs.reshape(-1, hidden) @ weight)[:, :hidden])


def _median_ms(function, repeats: int) -> float:
    function()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)[len(times) // 2]


def _recurrent_rows(cell: str, hidden_size: int) -> int:
    """Rows of the cell's recurrent matrix W_hh (G*H: 1 block for the RNN, 3 GRU, 4 LSTM), read from the
    cell itself; H for a cell without a ``weight_hh``."""
    weight = getattr(make_cell(cell, hidden_size, hidden_size), "weight_hh", None)
    return weight.shape[0] if weight is not None else hidden_size


def measure_costs(
    cell: str = "lstm",
    lengths=(25, 50, 100, 200, 400),
    batch_size: int = 16,
    hidden_size: int = 64,
    repeats: int = 3,
) -> list[CostRow]:
    width = _recurrent_rows(cell, hidden_size)
    torch.manual_seed(0)
    layer = make_layer(cell, hidden_size, hidden_size, batch_first=False)
    weight = torch.randn(hidden_size, width)
    rows = []
    for length in lengths:
        inputs = torch.randn(length, batch_size, hidden_size, requires_grad=True)
        step_inputs = torch.randn(length, batch_size, hidden_size)
        memory = saved_bytes(partial(_forward, layer, inputs))
        rows.append(
            CostRow(
                length,
                memory / 2**20,
                _median_ms(partial(_forward_backward, layer, inputs), repeats),
                _median_ms(partial(_sequential, step_inputs, weight), repeats),
                _median_ms(partial(_parallel, step_inputs, weight), repeats),
            )
        )
    return rows


def format_costs(rows: list[CostRow], cell: str) -> str:
    lines = [
        f"{cell}: T, saved-for-backward MB, forward+backward ms, T dependent products ms, one product ms"
    ]
    for row in rows:
        lines.append(
            f"  T={row.length:<5d} {row.saved_megabytes:8.2f} MB  {row.forward_backward_ms:9.1f} ms  "
            f"{row.sequential_ms:8.2f} ms  {row.parallel_ms:7.2f} ms  "
            f"(sequential/parallel x{row.sequential_ms / max(row.parallel_ms, 1e-6):.0f})"
        )
    return "\n".join(lines)


def plot_costs(rows: list[CostRow], cell: str, path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lengths = [r.length for r in rows]
    fig, (mem_ax, time_ax) = plt.subplots(1, 2, figsize=(11, 3.8))
    mem_ax.plot(lengths, [r.saved_megabytes for r in rows], "o-")
    mem_ax.set_xlabel("T (steps)")
    mem_ax.set_ylabel("MB saved for backward")
    mem_ax.set_title(f"{cell}: BPTT stores every step's activations", fontsize=10)
    time_ax.plot(lengths, [r.forward_backward_ms for r in rows], "o-", label=f"{cell} forward + backward")
    time_ax.plot(lengths, [r.sequential_ms for r in rows], "s--", label="T dependent products (recurrence)")
    time_ax.plot(lengths, [r.parallel_ms for r in rows], "^:", label="same products at once (no recurrence)")
    time_ax.set_xlabel("T (steps)")
    time_ax.set_ylabel("ms")
    time_ax.set_yscale("log")
    time_ax.set_title("time: the recurrence runs T steps one after another", fontsize=10)
    time_ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)

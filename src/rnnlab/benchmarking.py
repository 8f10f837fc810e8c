"""Side-by-side timing of rnnlab's recurrent layers against torch.nn (used by `rnnlab bench` and
`benchmarks/recurrent_layers.py`), and `train_for_minutes`, the benchmarks' wall-clock-budgeted training run.

Each configuration times forward + backward of torch.nn, our fused path and our explicit path on the same
input in the same process, interleaving the three so that machine noise hits them alike, and reports the
median tokens/s and the ratios to torch.nn.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch

from rnnlab.nn import GRU, LSTM, RNN

_LAYERS = {"rnn": (RNN, torch.nn.RNN), "lstm": (LSTM, torch.nn.LSTM), "gru": (GRU, torch.nn.GRU)}


@dataclass
class Timing:
    cell: str
    implementation: str  # "torch.nn", "rnnlab fused", "rnnlab explicit"
    device: str
    dtype: str
    tokens_per_second: float
    ratio_to_torch: float
    config: str


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _step_time(layer: torch.nn.Module, x: torch.Tensor, autocast_dtype) -> float:
    device = x.device
    _synchronize(device)
    start = time.perf_counter()
    with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
        output, _ = layer(x)
        loss = output.float().square().mean()
    loss.backward()
    _synchronize(device)
    return time.perf_counter() - start


def compare_layers(
    cell: str = "lstm",
    hidden_size: int = 256,
    num_layers: int = 2,
    seq_len: int = 64,
    batch_size: int = 32,
    repeats: int = 5,
    warmup: int = 2,
    device: str = "cpu",
    bidirectional: bool = False,
    autocast_dtype: torch.dtype | None = None,
    include_explicit: bool = True,
) -> list[Timing]:
    """Time forward+backward of torch.nn vs rnnlab (fused, explicit) on one configuration."""
    if cell not in _LAYERS:
        raise ValueError(f"cell must be one of {sorted(_LAYERS)}, got {cell!r}")
    ours_cls, torch_cls = _LAYERS[cell]
    torch.manual_seed(0)
    dev = torch.device(device)
    kwargs = dict(num_layers=num_layers, bidirectional=bidirectional)
    reference = torch_cls(hidden_size, hidden_size, **kwargs).to(dev)
    fused = ours_cls(hidden_size, hidden_size, path="fused", **kwargs).to(dev)
    fused.load_state_dict(reference.state_dict())
    layers = {"torch.nn": reference, "rnnlab fused": fused}
    if include_explicit:
        explicit = ours_cls(hidden_size, hidden_size, path="explicit", **kwargs).to(dev)
        explicit.load_state_dict(reference.state_dict())
        layers["rnnlab explicit"] = explicit
    x = torch.randn(seq_len, batch_size, hidden_size, device=dev)
    times: dict[str, list[float]] = {name: [] for name in layers}
    for round_index in range(warmup + repeats):
        for name, layer in layers.items():
            layer.zero_grad(set_to_none=True)
            elapsed = _step_time(layer, x, autocast_dtype)
            if round_index >= warmup:
                times[name].append(elapsed)
    tokens = seq_len * batch_size
    speed = {name: tokens / statistics.median(t) for name, t in times.items()}
    config = (
        f"{num_layers}x{hidden_size}{' bi' if bidirectional else ''}, T={seq_len}, N={batch_size}"
    )
    dtype = "bf16 autocast" if autocast_dtype is torch.bfloat16 else "fp32"
    return [
        Timing(cell, name, dev.type, dtype, speed[name], speed[name] / speed["torch.nn"], config)
        for name in layers
    ]


def format_table(rows: list[Timing]) -> str:
    """A Markdown table of timings."""
    lines = [
        "| cell | config | device | dtype | implementation | tokens/s (fwd+bwd) | × torch.nn |",
        "|---|---|---|---|---|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.cell} | {r.config} | {r.device} | {r.dtype} | {r.implementation} | "
            f"{r.tokens_per_second:,.0f} | {r.ratio_to_torch:.2f} |"
        )
    return "\n".join(lines)


def train_for_minutes(config: str, overrides: list[str], minutes: float, run) -> float:
    """`rnnlab train CONFIG OVERRIDES` into `run` (replaced) for at most `minutes`, quietly; its wall seconds.
    A failed run ends the benchmark (SystemExit naming the command)."""
    from rnnlab.cli import main

    start = time.perf_counter()
    argv = ["train", config, *overrides, "--trainer.max_minutes", str(minutes), "--trainer.progress", "false",
            "--trainer.plot", "false", "--output_dir", str(run), "--overwrite"]  # fmt: skip
    if main(argv) != 0:
        raise SystemExit(f"training failed: rnnlab {' '.join(argv)}")
    return time.perf_counter() - start

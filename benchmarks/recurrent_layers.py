"""Forward+backward tokens/s of rnnlab's recurrent layers (fused, explicit, compiled paths) against torch.nn.

    python benchmarks/recurrent_layers.py --threads 1                    # CPU grid, then the compiled table
    python benchmarks/recurrent_layers.py --device cuda                  # GPU (cuDNN), adds a bf16-autocast row
    python benchmarks/recurrent_layers.py --threads 1 --only-compiled    # just the compiled-path table

All implementations run on the same input in the same process, interleaved; ratios in the first table are
to torch.nn. The compiled table (issue #28 §2) times LSTM on the fused, explicit and compiled paths and the
layer-normalised LSTM (`lnlstm`, no fused kernel) on the explicit and compiled paths, as multiples of the
fused LSTM's time (lower is better); the one-off compile time (the first forward+backward, minus a
steady-state step) is reported apart.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from rnnlab.benchmarking import compare_layers, format_table
from rnnlab.nn import LSTM, Recurrent
from rnnlab.nn import compiled as compiled_path
from rnnlab.nn.layernorm_lstm import LayerNormLSTMCell


def _fwd_bwd(layer: torch.nn.Module, x: torch.Tensor) -> float:
    layer.zero_grad(set_to_none=True)
    start = time.perf_counter()
    output, _ = layer(x)
    output.square().mean().backward()
    if x.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def compiled_table(config: dict, repeats: int, device: str) -> str:
    """Markdown rows: each implementation's time as a multiple of the fused LSTM's, plus compile seconds."""
    torch.manual_seed(0)
    hidden, layers = config["hidden_size"], config["num_layers"]
    fused = LSTM(hidden, hidden, num_layers=layers, path="fused").to(device)
    impls = {"lstm fused": fused}
    for path in ("explicit", "compiled"):
        impls[f"lstm {path}"] = LSTM(hidden, hidden, num_layers=layers, path=path).to(device)
        impls[f"lstm {path}"].load_state_dict(fused.state_dict())
    ln = Recurrent(LayerNormLSTMCell, hidden, hidden, num_layers=layers, path="explicit").to(device)
    ln_compiled = Recurrent(LayerNormLSTMCell, hidden, hidden, num_layers=layers, path="compiled").to(device)
    ln_compiled.load_state_dict(ln.state_dict())
    impls |= {"lnlstm explicit": ln, "lnlstm compiled": ln_compiled}
    x = torch.randn(config["seq_len"], config["batch_size"], hidden, device=device)
    first = {name: _fwd_bwd(layer, x) for name, layer in impls.items()}  # compiles the compiled ones
    times: dict[str, list[float]] = {name: [] for name in impls}
    for round_index in range(1 + repeats):
        for name, layer in impls.items():
            elapsed = _fwd_bwd(layer, x)
            if round_index:
                times[name].append(elapsed)
    median = {name: statistics.median(t) for name, t in times.items()}
    tokens = config["seq_len"] * config["batch_size"]
    label = f"{layers}x{hidden}, T={config['seq_len']}, N={config['batch_size']}"
    rows = []
    for name in impls:
        compile_s = f"{first[name] - median[name]:.1f}" if name.endswith("compiled") else "-"
        rows.append(
            f"| {label} | {name} | {tokens / median[name]:,.0f} | {median[name] / median['lstm fused']:.2f} | {compile_s} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 is steadier on a busy machine)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--cells", nargs="+", default=["lstm", "gru", "rnn"])
    parser.add_argument("--only-compiled", action="store_true", help="skip the torch.nn comparison grid")
    parser.add_argument("--no-compiled", action="store_true", help="skip the compiled-path table")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda":
        configs = [dict(hidden_size=512, num_layers=2, seq_len=256, batch_size=64)]
    else:
        configs = [
            dict(hidden_size=128, num_layers=1, seq_len=35, batch_size=20),
            dict(hidden_size=256, num_layers=2, seq_len=64, batch_size=32),
        ]
    name = torch.cuda.get_device_name() if args.device == "cuda" else platform.processor() or platform.machine()
    print(f"# torch {torch.__version__}, {name}, {torch.get_num_threads()} threads")
    if not args.only_compiled:
        rows = []
        for cell in args.cells:
            for config in configs:
                rows += compare_layers(cell=cell, repeats=args.repeats, device=args.device, **config)
                if args.device == "cuda":
                    rows += compare_layers(
                        cell=cell, repeats=args.repeats, device=args.device, autocast_dtype=torch.bfloat16, **config
                    )
        print(format_table(rows))
    if not args.no_compiled:
        print(f"\n# compiled path: torch.compile backend {compiled_path.BACKEND}, {compiled_path.CHUNK} steps per call")
        print("| config | implementation | tokens/s (fwd+bwd) | × fused LSTM time | compile s |")
        print("|---|---|---:|---:|---:|")
        for config in configs:
            print(compiled_table(config, args.repeats, args.device), flush=True)


if __name__ == "__main__":
    main()

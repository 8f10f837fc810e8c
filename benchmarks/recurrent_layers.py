"""Forward+backward tokens/s of rnnlab's recurrent layers (fused and explicit paths) against torch.nn.

    python benchmarks/recurrent_layers.py                 # CPU grid
    python benchmarks/recurrent_layers.py --device cuda   # GPU (cuDNN), adds a bf16-autocast row

All implementations run on the same input in the same process, interleaved; ratios are to torch.nn.
"""

from __future__ import annotations

import argparse
import platform

import torch

from rnnlab.benchmarking import compare_layers, format_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 is steadier on a busy machine)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--cells", nargs="+", default=["lstm", "gru", "rnn"])
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
    rows = []
    for cell in args.cells:
        for config in configs:
            rows += compare_layers(cell=cell, repeats=args.repeats, device=args.device, **config)
            if args.device == "cuda":
                rows += compare_layers(
                    cell=cell, repeats=args.repeats, device=args.device, autocast_dtype=torch.bfloat16, **config
                )
    name = torch.cuda.get_device_name() if args.device == "cuda" else platform.processor() or platform.machine()
    print(f"# torch {torch.__version__}, {name}, {torch.get_num_threads()} threads")
    print(format_table(rows))


if __name__ == "__main__":
    main()

"""`rnnlab bench layers`: the recurrent-layer benchmark (ours vs torch.nn) from the command line."""

from __future__ import annotations

import argparse


def register(commands) -> None:
    parser = commands.top.add_parser("bench", help="measure rnnlab layers against torch.nn")
    parser.add_argument("--cell", choices=["rnn", "lstm", "gru"], default="lstm")
    parser.add_argument("--hidden-size", type=int, default=256)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from rnnlab.benchmarking import compare_layers, format_table

    rows = compare_layers(
        cell=args.cell,
        hidden_size=args.hidden_size,
        num_layers=args.num_layers,
        seq_len=args.seq_len,
        batch_size=args.batch_size,
        repeats=args.repeats,
    )
    print(format_table(rows))
    return 0

"""`rnnlab demo`: a character 3-gram and an RNN language model on the Tang poems, side by side (rnnlab.demo)."""

from __future__ import annotations

import argparse


def register(commands) -> None:
    demo = commands.top.add_parser(
        "demo", help="Tang poems: a character 3-gram and an RNN trained for a few minutes, side by side"
    )
    demo.add_argument("--output-dir", default="runs/demo")
    demo.add_argument("--minutes", type=float, default=4.0, help="the RNN's training wall-clock budget (default 4)")
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--steps", type=int, default=None, help="train exactly this many steps instead of --minutes")
    demo.add_argument("--threads", type=int, default=None, help="torch threads, at most the cores (default: the idle cores, at most 4)")
    demo.add_argument("--overwrite", action="store_true", help="replace a run already in --output-dir")
    demo.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    from rnnlab.demo import run_demo as demo

    result = demo(output_dir=args.output_dir, minutes=args.minutes, seed=args.seed, steps=args.steps,
                  overwrite=args.overwrite, threads=args.threads)  # fmt: skip
    return 130 if result.get("interrupted") else 0

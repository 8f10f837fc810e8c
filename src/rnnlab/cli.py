"""`rnnlab <command>`: a thin command line. It parses, builds and calls; the work lives in tasks.

Each command module in `COMMAND_MODULES` exposes `register(commands: Commands)` and adds its
sub-commands there. Modules import heavy libraries (torch) inside their handlers so `rnnlab --help`
stays fast. A `UserError` raised anywhere becomes a one-line message and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from dataclasses import dataclass

from rnnlab.errors import UserError

COMMAND_MODULES = [
    "rnnlab.commands.bench",
    "rnnlab.commands.data",
    "rnnlab.commands.models",
    "rnnlab.commands.labelling",
    "rnnlab.commands.translate",
    "rnnlab.commands.ngram",
    "rnnlab.commands.inspect",
    "rnnlab.commands.lm",
]


@dataclass
class Commands:
    """Where command modules attach their parsers."""

    top: argparse._SubParsersAction  # rnnlab <command>
    train: argparse._SubParsersAction  # rnnlab train <task>


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnlab",
        description="Recurrent neural networks you can read, run and look inside.",
    )
    top = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    train_parser = top.add_parser("train", help="train a model (rnnlab train TASK --help)")
    train = train_parser.add_subparsers(dest="task", metavar="TASK", required=True)
    commands = Commands(top=top, train=train)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        if not getattr(args, "accepts_overrides", False):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.overrides = extra  # `rnnlab train TASK --key value ...`: config overrides
    try:
        result = args.handler(args)
    except UserError as error:
        print(f"rnnlab: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnnlab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `rnnlab ... | head`: the reader went away; not an error of ours
        # Point stdout at /dev/null so the interpreter's final flush does not raise again (Python docs' recipe).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())

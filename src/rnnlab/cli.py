"""`rnnlab <command>`: a thin command line. It parses, builds and calls; the work lives in tasks.

Each command module in `COMMAND_MODULES` exposes `register(commands: Commands)` and adds its
sub-commands there. Tasks are found through their descriptors (rnnlab.tasks.registry), which `train`
imports to list them. A `UserError` raised anywhere becomes a one-line message and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from dataclasses import dataclass

from rnnlab.errors import UserError

# The commands are the CLI's own; tasks are not listed anywhere: `train`, `eval` and the prediction verbs find
# them through rnnlab.tasks.registry.
COMMAND_MODULES = [
    "rnnlab.commands.train",
    "rnnlab.commands.runs",
    "rnnlab.commands.lm",
    "rnnlab.commands.translate",
    "rnnlab.commands.labelling",
    "rnnlab.commands.predict",
    "rnnlab.commands.ngram",
    "rnnlab.commands.data",
    "rnnlab.commands.inspect",
    "rnnlab.commands.bench",
]


@dataclass
class Commands:
    """Where command modules attach their parsers."""

    top: argparse._SubParsersAction  # rnnlab <command>


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnlab",
        description="Recurrent neural networks you can read, run and look inside.",
    )
    parser.add_argument("--version", action="version", version=f"rnnlab {_version()}")
    top = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands = Commands(top=top)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rnnlab")
    except PackageNotFoundError:
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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

"""`rnnlab <command>`: a thin command line. It parses, builds and calls; the work lives in tasks.

Each command module in `COMMAND_MODULES` exposes `register(commands: Commands)` and adds its
sub-commands there. Tasks are found through their descriptors (rnnlab.tasks.registry), which `train`
imports to list them. A `UserError` raised anywhere becomes a one-line message and exit status 2, and so do the OS errors a
user can cause (permission, missing path, disk full, read-only file system: `rnnlab.paths`); argparse's
own errors are one line too (`rnnlab.commands.options.Parser`), and the options many commands share are
checked once, by name, before any handler runs (`rnnlab.commands.options.validate`).
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
    "rnnlab.commands.demo",
    "rnnlab.commands.poem",
    "rnnlab.commands.ngram",
    "rnnlab.commands.data",
    "rnnlab.commands.inspect",
    "rnnlab.commands.bench",
    "rnnlab.commands.serve",
    "rnnlab.commands.verbs",  # last: every task's verbs, from the command index (a clash with the above is refused)
]


@dataclass
class Commands:
    """Where command modules attach their parsers."""

    top: argparse._SubParsersAction  # rnnlab <command>


def build_parser() -> argparse.ArgumentParser:
    from rnnlab.commands.options import Parser

    parser = Parser(
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
    from rnnlab.commands.options import validate
    from rnnlab.paths import os_error_message

    argv = sys.argv[1:] if argv is None else list(argv)
    undecodable = _first_undecodable(argv)
    if undecodable is not None:
        print(f"rnnlab: error: {undecodable}", file=sys.stderr)
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        validate(args)
        result = args.handler(args)
    except UserError as error:
        print(f"rnnlab: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnnlab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `rnnlab ... | head`: the reader went away; not an error of ours
        # Point stdout at /dev/null so the interpreter's final flush does not raise again (Python docs' recipe).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as error:  # permission, missing path, disk full, read-only file system: the user's to fix
        message = os_error_message(error)
        if message is None:
            raise
        print(f"rnnlab: error: {message}", file=sys.stderr)
        return 2
    return int(result or 0)


def _first_undecodable(argv: list[str]) -> str | None:
    """A message for the first argument that is not UTF-8, or None.

    Python hands bytes it cannot decode to us as lone surrogates (surrogateescape); such a string cannot be
    printed, written to run.yaml or encoded for a tokenizer, so it is refused here, once, for every command
    (a file name that is not UTF-8 included: rename it).
    """
    for position, arg in enumerate(argv, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            shown = ascii(arg.encode("utf-8", "surrogateescape"))[:60]
            return f"argument {position} is not UTF-8 text ({shown}): rnnlab reads its arguments as UTF-8"
    return None


def _one_line(error: BaseException) -> str:
    """The message on one line (a file's text quoted in a message may hold newlines)."""
    return " ".join(str(error).split("\n")).strip() or type(error).__name__


if __name__ == "__main__":
    sys.exit(main())

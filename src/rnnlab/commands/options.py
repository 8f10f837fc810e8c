"""The options many commands share, checked in one place with one wording (`rnnlab.validation.OPTION_RULES`).

`validate(args)` runs after argparse, before any command's handler, on every command: an option is checked
by its name (`args.top_k`, `args.batch_size`, ...), so `--top-k 0` reads the same in `generate`, `classify`
and `cloze`, and a new command that names an option like the others gets its check without a line of code.
`Parser` makes argparse's own errors (a missing argument, `--beam x`) one line too.
"""

from __future__ import annotations

import argparse

from rnnlab.validation import check_option


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (`rnnlab: error: ...`), exit status 2 as argparse's."""

    def error(self, message: str):  # noqa: D102 (argparse's hook)
        self.exit(2, f"rnnlab: error: {message} (see `{self.prog} --help`)\n")


def validate(args: argparse.Namespace) -> None:
    """Check every shared option present in `args`; raises ConfigError with the option's flag."""
    for name, value in vars(args).items():
        if isinstance(value, list):
            for item in value:
                check_option(name, item)
        else:
            setattr(args, name, check_option(name, value))  # e.g. --split dev -> valid

"""The options many commands share, checked in one place with one wording (`rnnlab.validation.OPTION_RULES`).

`validate(args)` runs after argparse, before any command's handler, on every command: an option is checked
by its name (`args.top_k`, `args.batch_size`, ...), so `--top-k 0` reads the same in `generate`, `classify`
and `cloze`, and a new command that names an option like the others gets its check without a line of code;
the caps of `rnnlab.validation.OPTION_LIMITS` come with it (`--beam` at most 256, `--threads` at most the
machine's cores), including those of one sub-command only (`inspect bptt --steps`).
`Parser` makes argparse's own errors (a missing argument, `--beam x`) one line too.
"""

from __future__ import annotations

import argparse

from rnnlab.validation import check_option


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (`rnnlab: error: ...`), exit status 2 as argparse's."""

    def error(self, message: str):  # noqa: D102 (argparse's hook)
        self.exit(2, f"rnnlab: error: {message} (see `{self.prog} --help`)\n")


def command_path(args: argparse.Namespace) -> str | None:
    """The sub-command `args` are for, as typed: "generate", "inspect bptt" (a nested sub-parser's `dest` is
    `<command>_command`, as `inspect_command`)."""
    command = getattr(args, "command", None)
    if not isinstance(command, str):
        return None
    sub = getattr(args, f"{command}_command", None)
    return f"{command} {sub}" if isinstance(sub, str) else command


def validate(args: argparse.Namespace) -> None:
    """Check every shared option present in `args`; raises ConfigError with the option's flag."""
    command = command_path(args)
    for name, value in vars(args).items():
        if isinstance(value, list):
            for item in value:
                check_option(name, item, command)
        else:
            setattr(args, name, check_option(name, value, command))  # e.g. --split dev -> valid

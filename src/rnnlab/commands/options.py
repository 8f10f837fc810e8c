"""The options many commands share, checked in one place with one wording (`rnnlab.validation`).

`validate(args)` runs after argparse, before any command's handler, on every command: an option is checked
by its name (`args.top_k`, `args.batch_size`, ...), so `--top-k 0` reads the same in `generate`, `classify`
and `cloze`, and a new command that names an option like the others gets its check without a line of code.
`Parser` makes argparse's own errors (a missing argument, `--beam x`) one line too.
"""

from __future__ import annotations

import argparse
import math

from rnnlab.errors import ConfigError
from rnnlab.validation import check_int, check_positive, check_split, check_temperature, check_top_p, flag


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (`rnnlab: error: ...`), exit status 2 as argparse's."""

    def error(self, message: str):  # noqa: D102 (argparse's hook)
        self.exit(2, f"rnnlab: error: {message} (see `{self.prog} --help`)\n")


def _at_least(minimum: int):
    return lambda name, value: check_int(name, value, minimum)


def _finite(name: str, value) -> float:
    if not math.isfinite(value):  # argparse's float() reads "inf" and "nan"
        raise ConfigError(f"{flag(name)} must be a finite number, got {value!r}")
    return value


#: option name -> check(name, value). None values (an option left at "not given") are not checked.
RULES = {
    # counts: at least one
    **{name: _at_least(1) for name in (
        "num_samples", "max_tokens", "top_k", "beam", "n_best", "batch_size", "steps", "repeats", "max_units",
        "hidden_size", "num_layers", "seq_len", "length", "lengths", "top", "threads",
    )},  # fmt: skip
    # counts that may be zero (no training / no explosion run)
    **{name: _at_least(0) for name in ("fit_steps", "train_steps", "explode_steps", "seed")},
    "temperature": lambda name, value: check_temperature(value),
    "top_p": lambda name, value: check_top_p(value),
    "minutes": check_positive,
    "scale": check_positive,
    "split": lambda name, value: check_split(value),
    **{name: _finite for name in ("alpha", "lm_weight", "reverse_weight", "length_weight")},
}


def validate(args: argparse.Namespace) -> None:
    """Check every shared option present in `args`; raises ConfigError with the option's flag."""
    for name, value in vars(args).items():
        check = RULES.get(name)
        if check is None or value is None:
            continue
        if isinstance(value, list):
            for item in value:
                check(name, item)
        else:
            setattr(args, name, check(name, value))  # e.g. --split dev -> valid

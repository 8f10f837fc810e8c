"""One check, and one wording, for each option many commands share (and the library functions behind them).

`rnnlab.commands.options.validate` runs these on every command's parsed options (by option name), and the
library functions that take the same values (`NeuralLanguageModel.generate`, `NGramModel.generate`,
`Translator.translate`, `EvalRequest`, ...) call them too, so the same mistake reads the same everywhere:

    --temperature must be a finite number >= 0 (0 = greedy), got inf
    --top-k must be an integer >= 1, got 0
    --split: expected one of train, valid, test, got 'foo'
    argument 2: empty sentence; expected at least one word
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rnnlab.errors import ConfigError, DataError

SPLITS = ("train", "valid", "test")


def flag(name: str) -> str:
    """`top_k` -> `--top-k` (names given with dashes stay as they are)."""
    return name if name.startswith("-") else "--" + name.replace("_", "-")


def check_int(name: str, value, minimum: int = 1, maximum: int | None = None) -> int:
    """An integer in [minimum, maximum]; `name` is the option (`top_k` or `--top-k`)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{flag(name)} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ConfigError(f"{flag(name)} must be an integer >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{flag(name)} must be an integer between {minimum} and {maximum}, got {value}")
    return value


def check_positive(name: str, value) -> float:
    """A finite number > 0 (minutes, learning rates, scales)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{flag(name)} must be a finite number > 0, got {value!r}")
    return float(value)


def check_temperature(value, name: str = "temperature") -> float:
    """A finite temperature >= 0; 0 means greedy (always the most probable token), in every model."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"{flag(name)} must be a finite number >= 0 (0 = greedy), got {value!r}")
    return float(value)


def check_top_p(value, name: str = "top_p") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value <= 1):
        raise ConfigError(f"{flag(name)} must be in (0, 1], got {value!r}")
    return float(value)


def check_sampling(num_samples: int = 1, max_tokens: int = 1, temperature: float = 1.0,
                   top_k: int | None = None, top_p: float | None = None) -> None:  # fmt: skip
    """The sampling options of `generate` (any language model)."""
    check_int("num_samples", num_samples)
    check_int("max_tokens", max_tokens)
    check_temperature(temperature)
    if top_k is not None:
        check_int("top_k", top_k)
    if top_p is not None:
        check_top_p(top_p)


def check_split(split) -> str:
    """A split name; `dev` and `validation` are read as `valid`."""
    split = {"dev": "valid", "validation": "valid"}.get(split, split)
    if split not in SPLITS:
        raise ConfigError(f"--split: expected one of {', '.join(SPLITS)}, got {split!r}")
    return split


def check_sentences(texts: Sequence[str], where: str | None = None, tokens: Sequence[Sequence] | None = None) -> None:
    """Refuse an empty sentence with the same words in every prediction verb.

    where: the file the sentences came from (lines are then numbered), or None for command-line arguments.
    tokens: the sentences as tokenised by the model, when a non-blank text can still give no token.
    """
    for number, text in enumerate(texts, start=1):
        empty = not text.strip() or (tokens is not None and not tokens[number - 1])
        if empty:
            place = f"{where}:{number}" if where else f"sentence {number}"
            raise DataError(f"{place}: empty sentence; expected at least one word")


def unknown_note(unknown: Sequence[str]) -> str:
    """What every verb prints (on stderr) when input symbols are not in the model's vocabulary."""
    shown = " ".join(dict.fromkeys(unknown))
    return f"unknown to this model, read as <unk>: {shown}"


# ------------------------------------------------------------------------------- options checked by name
def _at_least(minimum: int):
    return lambda name, value: check_int(name, value, minimum)


def _finite(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{flag(name)} must be a finite number, got {value!r}")  # float() reads "inf" and "nan"
    return value


#: option name -> check(name, value): the same rule for `--top-k` in `generate`, `classify`, `cloze`, a
#: verb's options dataclass and a server's request body. None (an option left at "not given") is not checked.
OPTION_RULES = {
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


def check_option(name: str, value):
    """`value` checked by the rule for option `name` (unchanged when there is none, or when it is None)."""
    rule = OPTION_RULES.get(name)
    return value if rule is None or value is None else rule(name, value)

"""One check, and one wording, for each option many commands share (and the library functions behind them).

`rnnlab.commands.options.validate` runs these on every command's parsed options (by option name), and the
library functions that take the same values (`NeuralLanguageModel.generate`, `NGramModel.generate`,
`Translator.translate`, `EvalRequest`, ...) call them too, so the same mistake reads the same everywhere:

    --temperature must be a finite number >= 0 (0 = greedy), got inf
    --top-k must be an integer >= 1, got 0
    --beam must be an integer between 1 and 256, got 1000000
    --threads 512: this machine has 2 cores; expected 1..2
    --split: expected one of train, valid, test, got 'foo'
    argument 2: empty sentence; expected at least one word

`OPTION_LIMITS` caps every option whose cost grows without bound (a beam, a count of samples, a length), so
one request cannot take the machine's memory or an hour (docs/reliability.md, "Limits").
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

from rnnlab.errors import ConfigError, DataError, UserError

SPLITS = ("train", "valid", "test")

#: The largest seed: every generator rnnlab seeds (python's `random`, numpy, torch) takes [0, 2**63 - 1]
#: as it is (torch.manual_seed overflows at 2**64; numpy's legacy global state gets the seed modulo 2**32).
MAX_SEED = 2**63 - 1

#: A sampling temperature below this is greedy decoding (the most probable token each step), exactly as 0
#: is: dividing logits by a smaller one overflows (1e-300 made NaN probabilities).
GREEDY_BELOW = 1e-4


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
    """A finite temperature >= 0; 0 (and anything below `GREEDY_BELOW`) means greedy, in every model."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"{flag(name)} must be a finite number >= 0 (0 = greedy), got {value!r}")
    return float(value)


def is_greedy(temperature: float) -> bool:
    """Whether sampling at `temperature` is greedy decoding (0, or below `GREEDY_BELOW`)."""
    return temperature < GREEDY_BELOW


def check_top_p(value, name: str = "top_p") -> float:
    """A nucleus mass in (0, 1]; a tiny one keeps the single most probable token (never none)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value <= 1):
        raise ConfigError(f"{flag(name)} must be in (0, 1], got {value!r}")
    return float(value)


def check_sampling(num_samples: int = 1, max_tokens: int = 1, temperature: float = 1.0,
                   top_k: int | None = None, top_p: float | None = None) -> None:  # fmt: skip
    """The sampling options of `generate` (any language model)."""
    check_option("num_samples", num_samples)
    check_option("max_tokens", max_tokens)
    check_temperature(temperature)
    check_option("top_k", top_k)
    if top_p is not None:
        check_top_p(top_p)


def check_seed(value, name: str = "seed") -> int:
    """A seed in [0, MAX_SEED], the one range every generator accepts (`rnnlab.train.rng.set_seed`)."""
    return check_int(name, value, 0, MAX_SEED)


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity where the OS tells it, else the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def check_threads(name: str, value) -> int:
    """A thread count in [1, cores]: more threads than cores only slows down (far more segfaulted torch)."""
    check_int(name, value)
    cores = usable_cores()
    if value > cores:
        cores_text = f"{cores} core{'s' * (cores != 1)}"
        raise ConfigError(f"{flag(name)} {value}: this machine has {cores_text}; expected 1..{cores}")
    return value


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (MemAvailable of /proc/meminfo), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


def check_memory(estimate_bytes: float, what: str, available: int | None = None, hint: str = "") -> None:
    """Refuse up front a request whose predictable memory (`estimate_bytes`) exceeds what is available.

    what: the request, e.g. "beam search of 256 beams x 64 sentences over 32000 tokens"; available: bytes
    (default: `available_memory()`; unknown means no check); hint: what to lower, e.g. "use a smaller --beam".
    """
    available = available_memory() if available is None else available
    if available is not None and estimate_bytes > available:
        advice = f"; {hint}" if hint else ""
        raise UserError(f"{what} needs about {_size(estimate_bytes)} of memory, "
                        f"{_size(available)} is available{advice}")  # fmt: skip


def _size(count: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"  # pragma: no cover (the loop returns)


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
#: The largest value one request may ask for, for every option whose cost grows without bound. Chosen by
#: measurement on a 2-core, 24 GiB machine (docs/reliability.md, "Limits", has the why of each); generous
#: for real use, small enough that no single request takes the machine's memory or runs for hours. A key
#: "COMMAND --option" (e.g. "inspect bptt --steps") caps that option of one command only, before the key
#: of its name alone. Config-side caps: `MAX_NGRAM_ORDER` (rnnlab train ngram --order).
OPTION_LIMITS: dict[str, int] = {
    "beam": 256,  # beam rows x vocabulary per step; also checked against the memory available
    "n_best": 256,  # at most the beam
    "num_samples": 100_000,  # decoded 64 at a time and streamed: memory stays flat, time is linear
    "max_tokens": 10_000,  # per sample (and the tokens `inspect gates` shows)
    "top_k": 1_000_000,  # larger than any vocabulary or label set: no cost, catches a typo
    "batch_size": 4096,  # rows of one forward pass (tag, predict, bench, inspect cost)
    "seq_len": 10_000,  # bench: saved activations grow with seq_len x batch x hidden x layers
    "lengths": 10_000,  # inspect cost: the same
    "length": 5_000,  # inspect gradflow: each training step runs the whole sequence (~1 s at 1000)
    "hidden_size": 4096,  # weights grow with its square
    "num_layers": 16,
    "repeats": 1000,  # timing repeats: linear time
    "max_units": 4096,  # heatmap rows (<= hidden_size)
    "top": 1000,  # units listed per feature
    "steps": 1_000_000,  # demo: training steps (--minutes is the usual budget)
    "inspect bptt --steps": 100,  # an unrolled graph drawn step by step: 100 steps ~20 s, and unreadable beyond
    "fit_steps": 100_000,  # training steps (inspect gates / gradflow): linear time
    "train_steps": 100_000,
    "explode_steps": 100_000,
    "masses": 50,  # rollout: a simulated mass-spring or n-body system (the graph grows with masses squared)
    "frames": 20,  # rollout: frames in the PNG strip
    "max_concurrent": 1024,  # serve: requests running at once per model
    "max_inputs": 100_000,  # serve: inputs per request
    "max_body_bytes": 2**30,  # serve: a request body
    "port": 65_535,
    "max_points": 5000,  # write: pen points sampled per text, one LSTM step each (~2 s per 1000 on a CPU)
}

#: rnnlab train ngram --order: tables grow with every order, and no corpus has useful 21-grams.
MAX_NGRAM_ORDER = 20


_MAY_BE_ZERO = ("fit_steps", "train_steps", "explode_steps")  # counts where 0 means "none": no training


def _at_least(minimum: int):
    return lambda name, value: check_int(name, value, minimum)


def _finite(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{flag(name)} must be a finite number, got {value!r}")  # float() reads "inf" and "nan"
    return value


def _length_penalty(name: str, value) -> float:
    """GNMT's alpha in ((5 + len) / 6) ** alpha: 0 (off) to 10; beyond that the power overflows a float."""
    if _finite(name, value) < 0 or value > 10:
        raise ConfigError(f"{flag(name)} must be a length penalty in [0, 10], got {value!r}")
    return value


def _score_weight(name: str, value) -> float:
    """A weight on a log-probability in a reranking sum: finite and within +-1000 (a larger one drowns out
    every other term, and 1e308 overflowed the sum)."""
    if abs(_finite(name, value)) > 1000:
        raise ConfigError(f"{flag(name)} must be a weight in [-1000, 1000], got {value!r}")
    return value


#: option name -> check(name, value): the same rule for `--top-k` in `generate`, `classify`, `cloze`, a
#: verb's options dataclass and a server's request body. None (an option left at "not given") is not checked.
OPTION_RULES = {
    # counts: at least one (and at most OPTION_LIMITS[name])
    **{name: _at_least(1) for name in (
        "num_samples", "max_tokens", "top_k", "beam", "n_best", "batch_size", "steps", "repeats", "max_units",
        "hidden_size", "num_layers", "seq_len", "length", "lengths", "top",
    )},  # fmt: skip
    "max_points": _at_least(1),  # write: pen points per text
    # counts that may be zero (no training / no explosion run)
    **{name: _at_least(0) for name in _MAY_BE_ZERO},
    "frames": _at_least(1),
    "masses": _at_least(2),  # a spring needs two ends
    **{name: _at_least(1) for name in ("max_concurrent", "max_inputs", "max_body_bytes")},
    "port": _at_least(1),
    "nproc": _at_least(1),  # rnnlab train --nproc N: processes (at most the CPU cores or GPUs, checked there)
    "seed": lambda name, value: check_seed(value, name),
    "threads": check_threads,
    "temperature": lambda name, value: check_temperature(value),
    "top_p": lambda name, value: check_top_p(value),
    "minutes": check_positive,
    "scale": check_positive,
    "split": lambda name, value: check_split(value),
    "alpha": _length_penalty,
    **{name: _score_weight for name in ("lm_weight", "reverse_weight", "length_weight")},
}


def option_limit(name: str, command: str | None = None) -> int | None:
    """The cap of option `name` (in `command`, e.g. "inspect bptt", when given), or None for no cap."""
    if command is not None and f"{command} {flag(name)}" in OPTION_LIMITS:
        return OPTION_LIMITS[f"{command} {flag(name)}"]
    return OPTION_LIMITS.get(name)


def check_option(name: str, value, command: str | None = None):
    """`value` checked by the rule for option `name` and its cap in `OPTION_LIMITS` (for `command`, the
    sub-command path such as "inspect bptt", when given); unchanged when there is no rule, or when None."""
    rule = OPTION_RULES.get(name)
    if rule is None or value is None:
        return value
    value = rule(name, value)
    limit = option_limit(name, command)
    if limit is not None and value > limit:
        minimum = 0 if name in _MAY_BE_ZERO else 1
        raise ConfigError(f"{flag(name)} must be an integer between {minimum} and {limit}, got {value}")
    return value

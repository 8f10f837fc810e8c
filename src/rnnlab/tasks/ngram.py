"""The n-gram task: train from a corpus or import an ARPA file, evaluate, generate, score.

`rnnlab train ngram CORPUS --order 3` (or a YAML with `task: ngram`) calls `train`; `rnnlab eval / generate /
score DIR` find this task through `config.json`'s `"task": "ngram"` (see `DESCRIPTOR`).

The task is two modules, one concern each:

* this one: the config (`NGramTaskConfig`), the one-pass estimation (`train`, `run_directory`) and the
  task's descriptor;
* `rnnlab.tasks.ngram_eval`: a saved model loaded, `rnnlab eval` and `rnnlab ngram info`;
* shared outside tasks/: the model and its estimators `rnnlab.lm.ngram`, ARPA files `rnnlab.lm.arpa`, the
  corpus as streamed lines `rnnlab.data.lines`, the `generate` and `score` verbs `rnnlab.lm.verbs`.
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rnnlab.config import require
from rnnlab.data.lines import resolve_corpus
from rnnlab.errors import ConfigError, UserError
from rnnlab.lm.arpa import arpa_order
from rnnlab.lm.ngram import NGramModel
from rnnlab.lm.trace import NEXT
from rnnlab.lm.verbs import GENERATE, SCORE
from rnnlab.paths import guard_output_file
from rnnlab.tasks.ngram_eval import evaluate, format_evaluation, load_language_model
from rnnlab.tasks.registry import TaskDescriptor, register_task

__all__ = ["DESCRIPTOR", "NGramTaskConfig", "run_directory", "train"]


@dataclass
class NGramTaskConfig:
    """`rnnlab train ngram [CORPUS] --order 3 ...` or a YAML with `task: ngram`."""

    corpus: str | None = None  # a text file (one sentence per line) or a built-in dataset (ptb, tang, ...)
    order: int = 3
    smoothing: Literal["mle", "addk", "wb", "kn", "mkn"] = "mkn"  # mkn: modified Kneser-Ney, like KenLM
    k: float = 1.0  # the add-k constant (1: Laplace)
    level: Literal["word", "char"] | None = None  # None: word, or the dataset's own level
    min_count: int = 1  # words seen fewer times become <unk>
    prune: list[int] = field(default_factory=list)  # per order, drop n-grams seen at most T times
    discount_fallback: bool = False  # data too small to estimate Kneser-Ney discounts: use `discounts`
    discounts: list[float] = field(default_factory=list)  # fallback discounts (empty: 0.5 1 1.5 as lmplz)
    from_arpa: str | None = None  # import this ARPA file instead of counting
    arpa: str | None = None  # also write the model as this ARPA file
    chunk_tokens: int = 1_000_000  # tokens counted per chunk before merging (memory bound)
    output_dir: str | None = None  # default runs/ngram-NAME-Ngram

    def __post_init__(self) -> None:
        require(not (self.from_arpa and self.corpus), "from_arpa", "either a corpus or an ARPA file, not both",
                self.from_arpa)  # fmt: skip
        require(self.chunk_tokens >= 1, "chunk_tokens", ">= 1", self.chunk_tokens)
        from rnnlab.lm.ngram_smoothing import FALLBACK, check_discounts
        from rnnlab.validation import MAX_NGRAM_ORDER

        # before counting: tables grow with every order (1e9 was a MemoryError), and a discount above its
        # count makes negative probabilities (once saved as a NaN model)
        require(self.order <= MAX_NGRAM_ORDER, "order", f"an integer between 1 and {MAX_NGRAM_ORDER}", self.order)
        if self.discounts and self.smoothing in FALLBACK:
            check_discounts(self.smoothing, self.discounts)


def train(config: NGramTaskConfig, resume: bool = False) -> dict:
    """Count a corpus and estimate a model (or import an ARPA file); save it; a summary like the Trainer's."""
    if resume:
        raise UserError("n-gram models are estimated in one pass; --resume does not apply")
    if not config.from_arpa and not config.corpus:
        raise ConfigError("expected a corpus (text file or built-in dataset name) or --from-arpa FILE")
    if config.arpa:  # before counting, not after; never the corpus, never a file unasked
        guard_output_file(config.arpa, "ARPA file", inputs=[config.corpus, config.from_arpa],
                          replace_hint="delete it first (or rnnlab ngram export RUN FILE --overwrite)")  # fmt: skip
    start = time.perf_counter()
    if config.from_arpa:
        model = NGramModel.from_arpa(config.from_arpa, level=config.level or "word")
        print(f"imported {config.from_arpa}: order {model.order}, n-grams {model.config.counts}")
    else:
        source, level_hint = resolve_corpus(config.corpus)
        level = config.level or level_hint or "word"
        model = NGramModel.train(
            source,
            config.order,
            config.smoothing,
            level=level,
            min_count=config.min_count,
            k=config.k,
            prune=config.prune,
            discount_fallback=_fallback(config),
            chunk_tokens=config.chunk_tokens,
            corpus_name=config.corpus if level_hint is not None else str(Path(config.corpus).resolve()),
        )
        _print_build(model)
    output = run_directory(config, model.order)
    # The model goes to best/ like a neural run's, so the run directory keeps its run.yaml and lock file
    # while the model directory is replaced atomically; `rnnlab score RUN` finds best/ either way.
    model.save(output / "best")
    if config.arpa:
        model.write_arpa(config.arpa)
        print(f"ARPA file: {config.arpa}")
    seconds = time.perf_counter() - start
    print(
        f"model: {output / 'best'}  ({model.memory_bytes() / 2**20:.1f} MiB of n-gram tables; "
        f"peak process memory {_peak_memory_mb():.0f} MiB; {seconds:.1f} s)"
    )
    return {"steps": 0, "wall_time": seconds, "metric": None, "best_value": None, "best_step": None,
            "best_checkpoint": str(output / "best"), "last_checkpoint": None}  # fmt: skip


def run_directory(config: NGramTaskConfig, order: int | None = None) -> Path:
    """The model directory `train` writes: output_dir, or runs/ngram-NAME-ORDERgram.

    `order` is the model's; before training (`rnnlab train` locks the directory first) an imported ARPA
    file's order is read from its \\data\\ header (config.order when the header cannot be read: the
    import then fails with the file's own error before anything is written).
    """
    if config.output_dir:
        return Path(config.output_dir)
    source = config.from_arpa or config.corpus or "model"
    if order is None:
        order = arpa_order(config.from_arpa) if config.from_arpa else None
    return Path(f"runs/ngram-{Path(source).stem}-{order or config.order}gram")


def _fallback(config: NGramTaskConfig):
    from rnnlab.lm.ngram_smoothing import FALLBACK

    if not (config.discount_fallback or config.discounts):
        return None
    return config.discounts or FALLBACK.get(config.smoothing, ())


def _print_build(model: NGramModel) -> None:
    config, report = model.config, model.report
    print(
        f"{config.order}-gram {config.smoothing} model, {config.level} level: {config.sentences} sentences, "
        f"{config.tokens} tokens, vocabulary {len(model.vocab) - 1} (with <unk> and </s>)"
    )
    for m, count in enumerate(config.counts, start=1):
        line = f"  {m}-grams: {count}"
        if report and report.discounts:
            d = report.discounts[m - 1]
            line += f"  D1={d[0]:.4f} D2={d[1]:.4f} D3+={d[2]:.4f}"
            if m in report.fallback_orders:
                line += "  (fallback discounts)"
        if report and m >= 2 and report.pruned and report.pruned[m - 2]:
            line += f"  ({report.pruned[m - 2]} pruned)"
        print(line)


def _peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


DESCRIPTOR = register_task(TaskDescriptor(
    name="ngram",
    summary="n-gram language model (modified Kneser-Ney like KenLM, and simpler estimators)",
    docs="docs/ngram.md",
    config_class=NGramTaskConfig,
    train=train,
    load=load_language_model,
    evaluate=evaluate,
    format_eval=format_evaluation,
    verbs=(GENERATE, SCORE, NEXT),
    positional="corpus",
    run_dir=run_directory,
    resumable=False,
))  # fmt: skip

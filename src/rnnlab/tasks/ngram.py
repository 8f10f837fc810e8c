"""The n-gram task: train from a corpus or import an ARPA file, evaluate, generate, score.

`rnnlab train ngram CORPUS --order 3` (or a YAML with `task: ngram`) calls `train`; `rnnlab eval / generate /
score DIR` find this task through `config.json`'s `"task": "ngram"` (see `DESCRIPTOR`).
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rnnlab.config import require
from rnnlab.errors import ConfigError, DataError, UserError
from rnnlab.lm.ngram import NGramModel, perplexity
from rnnlab.lm.verbs import GENERATE, SCORE
from rnnlab.paths import check_writable
from rnnlab.tasks.registry import EvalRequest, TaskDescriptor, register_task, resolve_model_dir


def read_lines(path: str | Path) -> Iterator[str]:
    """Lines of a UTF-8 text file, streamed; a decoding error names the file and line."""
    path = Path(path)
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise DataError(f"{path}:{number}: not valid UTF-8 ({error.reason})") from None


def resolve_corpus(name: str, split: str = "train") -> tuple[Callable[[], Iterable[str]], str | None]:
    """A callable streaming the lines of `name` (a text file or a built-in dataset split), and the
    dataset's token level hint (None for a file)."""
    if Path(name).is_file():
        return (lambda: read_lines(name)), None
    from rnnlab.data import corpora

    if corpora.is_builtin(name):
        corpus = corpora.load_corpus(name)
        text = corpus.split(split)
        return (lambda: text.split("\n")), corpus.level
    if Path(name).exists():
        raise DataError(f"{name}: expected a text file (one sentence per line), found a directory")
    known = ", ".join(entry.name for entry in corpora.list_datasets())
    raise DataError(f"{name}: no such file, and not a built-in dataset ({known})")


def _peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


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


def train(config: NGramTaskConfig, resume: bool = False) -> dict:
    """Count a corpus and estimate a model (or import an ARPA file); save it; a summary like the Trainer's."""
    if resume:
        raise UserError("n-gram models are estimated in one pass; --resume does not apply")
    if not config.from_arpa and not config.corpus:
        raise ConfigError("expected a corpus (text file or built-in dataset name) or --from-arpa FILE")
    if config.arpa:
        check_writable(config.arpa, "ARPA file", kind="file")  # before counting, not after
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
        order = _arpa_order(config.from_arpa) if config.from_arpa else None
    return Path(f"runs/ngram-{Path(source).stem}-{order or config.order}gram")


def _arpa_order(path: str) -> int | None:
    """The highest order an ARPA file's \\data\\ section declares (None if unreadable)."""
    import re

    order, in_header = 0, False
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                line = line.strip()
                if line == "\\data\\":
                    in_header = True
                elif in_header and (match := re.match(r"ngram\s+(\d+)\s*=", line)):
                    order = max(order, int(match.group(1)))
                elif in_header and line.startswith("\\"):
                    break
    except OSError:
        return None
    return order or None


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


def info(path: str | Path) -> dict:
    """Order, estimator, n-gram counts, discounts and memory of a saved model (`rnnlab ngram info`)."""
    model = NGramModel.load(resolve_model_dir(path))
    config = model.config
    return {"model": str(path), "order": config.order, "smoothing": config.smoothing, "level": config.level,
            "vocabulary": len(model.vocab) - 1, "corpus": config.corpus, "counts": model.tables.sizes(),
            "discounts": config.discounts, "memory_bytes": model.memory_bytes()}  # fmt: skip


def format_info(result: dict) -> str:
    lines = [f"{result['model']}: {result['order']}-gram, smoothing {result['smoothing']}, {result['level']} level, "
             f"vocabulary {result['vocabulary']} (with <unk> and </s>), trained on {result['corpus']}"]  # fmt: skip
    for m, count in enumerate(result["counts"], start=1):
        discounts = result["discounts"][m - 1] if m <= len(result["discounts"]) else None
        text = "  D1={:.4f} D2={:.4f} D3+={:.4f}".format(*discounts) if discounts else ""
        lines.append(f"  {m}-grams: {count}{text}")
    lines.append(f"  n-gram tables: {result['memory_bytes'] / 2**20:.1f} MiB")
    return "\n".join(lines)


def load_language_model(path: str | Path) -> NGramModel:
    return NGramModel.load(path)


def evaluate(path: str | Path, request: EvalRequest) -> dict:
    """Log-probability and perplexity of a split of the model's corpus, or of a text file."""
    model = NGramModel.load(path)
    if request.data_file:
        if not Path(request.data_file).is_file():
            raise DataError(f"{request.data_file}: no such file")
        lines, what = read_lines(request.data_file), request.data_file
    else:
        corpus = model.config.corpus
        from rnnlab.data import corpora

        if corpus is None or not corpora.is_builtin(corpus):
            raise UserError(f"{path} was not trained on a built-in dataset ({corpus}); use --data FILE")
        source, _ = resolve_corpus(corpus, request.split)
        lines, what = source(), f"{corpus} {request.split}"
    sentences = [line for line in lines if line.strip()]
    if not sentences:
        raise DataError(f"{what}: no sentences to evaluate")
    start = time.perf_counter()
    total, count, oov = model.corpus_logprob(sentences)
    seconds = time.perf_counter() - start
    return {"data": what, "sentences": len(sentences), "tokens": count, "oov": oov, "logprob": total,
            "ppl": perplexity(total, count), "tokens_per_second": count / max(seconds, 1e-9)}  # fmt: skip


def format_evaluation(result: dict) -> str:
    return (f"{result['data']}: {result['sentences']} sentences, {result['tokens']} tokens (words + </s>), "
            f"{result['oov']} out-of-vocabulary\nlog-prob {result['logprob']:.2f} nats "
            f"({result['logprob'] / 2.302585092994046:.2f} log10)  perplexity {result['ppl']:.2f}  "
            f"({result['tokens_per_second']:,.0f} tokens/s)")  # fmt: skip


DESCRIPTOR = register_task(TaskDescriptor(
    name="ngram",
    summary="n-gram language model (modified Kneser-Ney like KenLM, and simpler estimators)",
    docs="docs/ngram.md",
    config_class=NGramTaskConfig,
    train=train,
    load=load_language_model,
    evaluate=evaluate,
    format_eval=format_evaluation,
    verbs=(GENERATE, SCORE),
    positional="corpus",
    run_dir=run_directory,
    resumable=False,
))  # fmt: skip

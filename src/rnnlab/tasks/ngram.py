"""The n-gram task: train from a corpus or import an ARPA file, evaluate, generate, score.

`rnnlab train ngram` calls `train_command`; `rnnlab eval / generate / score DIR` find this module through
`config.json`'s `"task": "ngram"` and call `evaluate_command`, `generate_command`, `load_language_model`.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from rnnlab.errors import DataError, UserError
from rnnlab.lm.ngram import NGramModel, perplexity


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


def train_command(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    if args.from_arpa:
        if args.corpus:
            raise UserError("give either CORPUS or --from-arpa FILE, not both")
        model = NGramModel.from_arpa(args.from_arpa, level=args.level or "word")
        name = Path(args.from_arpa).stem
        print(f"imported {args.from_arpa}: order {model.order}, n-grams {model.config.counts}")
    else:
        if not args.corpus:
            raise UserError("give a CORPUS (text file or built-in dataset name) or --from-arpa FILE")
        source, level_hint = resolve_corpus(args.corpus)
        level = args.level or level_hint or "word"
        model = NGramModel.train(
            source,
            args.order,
            args.smoothing,
            level=level,
            min_count=args.min_count,
            k=args.k,
            prune=args.prune or (),
            discount_fallback=_fallback(args),
            chunk_tokens=args.chunk_tokens,
            corpus_name=args.corpus if level_hint is not None else str(Path(args.corpus).resolve()),
        )
        name = Path(args.corpus).stem
        _print_build(model)
    output = Path(args.output or f"runs/ngram-{name}-{model.order}gram")
    model.save(output)
    if args.arpa:
        model.write_arpa(args.arpa)
        print(f"ARPA file: {args.arpa}")
    seconds = time.perf_counter() - start
    print(
        f"model: {output}  ({model.memory_bytes() / 2**20:.1f} MiB of n-gram tables; "
        f"peak process memory {_peak_memory_mb():.0f} MiB; {seconds:.1f} s)"
    )
    return 0


def _fallback(args: argparse.Namespace):
    from rnnlab.lm.ngram_smoothing import FALLBACK

    if args.discount_fallback is None:
        return None
    return args.discount_fallback or FALLBACK.get(args.smoothing, ())


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


def tool_command(args: argparse.Namespace) -> int:
    """`rnnlab ngram export DIR FILE`, `rnnlab ngram import FILE --output DIR`, `rnnlab ngram info DIR`."""
    if args.ngram_action == "export":
        model = NGramModel.load(args.checkpoint)
        model.write_arpa(args.arpa)
        print(f"wrote {args.arpa}: order {model.order}, n-grams {model.tables.sizes()}")
    elif args.ngram_action == "import":
        model = NGramModel.from_arpa(args.arpa, level=args.level)
        model.save(args.output)
        print(f"imported {args.arpa} into {args.output}: order {model.order}, n-grams {model.tables.sizes()}")
    else:
        model = NGramModel.load(args.checkpoint)
        config = model.config
        print(
            f"{args.checkpoint}: {config.order}-gram, smoothing {config.smoothing}, {config.level} level, "
            f"vocabulary {len(model.vocab) - 1} (with <unk> and </s>), trained on {config.corpus}"
        )
        for m, count in enumerate(model.tables.sizes(), start=1):
            discounts = config.discounts[m - 1] if m <= len(config.discounts) else None
            text = "  D1={:.4f} D2={:.4f} D3+={:.4f}".format(*discounts) if discounts else ""
            print(f"  {m}-grams: {count}{text}")
        print(f"  n-gram tables: {model.memory_bytes() / 2**20:.1f} MiB")
    return 0


def load_language_model(path: str | Path) -> NGramModel:
    return NGramModel.load(path)


def evaluate_command(args: argparse.Namespace) -> int:
    model = NGramModel.load(args.checkpoint)
    if args.data:
        if not Path(args.data).is_file():
            raise DataError(f"{args.data}: no such file")
        lines, what = read_lines(args.data), args.data
    else:
        corpus = model.config.corpus
        from rnnlab.data import corpora

        if corpus is None or not corpora.is_builtin(corpus):
            raise UserError(
                f"{args.checkpoint} was not trained on a built-in dataset ({corpus}); use --data FILE"
            )
        source, _ = resolve_corpus(corpus, args.split)
        lines, what = source(), f"{corpus} {args.split}"
    sentences = [line for line in lines if line.strip()]
    if not sentences:
        raise DataError(f"{what}: no sentences to evaluate")
    start = time.perf_counter()
    total, count, oov = model.corpus_logprob(sentences)
    seconds = time.perf_counter() - start
    print(
        f"{what}: {len(sentences)} sentences, {count} tokens (words + </s>), {oov} out-of-vocabulary\n"
        f"log-prob {total:.2f} nats ({total / 2.302585092994046:.2f} log10)  "
        f"perplexity {perplexity(total, count):.2f}  ({count / max(seconds, 1e-9):,.0f} tokens/s)"
    )
    return 0


def generate_command(args: argparse.Namespace) -> int:
    for option in ("beam", "form", "acrostic"):
        if getattr(args, option, None):
            raise UserError(f"--{option} is not available for n-gram models")
    model = NGramModel.load(args.checkpoint)
    samples = model.generate(
        args.prompt,
        num_samples=args.num_samples,
        max_tokens=args.max_tokens,
        temperature=0.0 if getattr(args, "greedy", False) else args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
        stop=args.stop,
    )
    for sample in samples:
        print(sample)
    sys.stdout.flush()
    return 0

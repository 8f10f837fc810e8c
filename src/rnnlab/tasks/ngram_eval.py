"""A saved n-gram model, loaded and looked at: `rnnlab eval` and `rnnlab ngram info`.

    rnnlab eval runs/ngram-ptb-3gram --split test        # perplexity on a split of its corpus (or --data FILE)
    rnnlab ngram info runs/ngram-ptb-3gram               # order, estimator, n-gram counts, discounts, memory

The model itself (`rnnlab.lm.ngram.NGramModel`) scores and generates; the training side is
`rnnlab.tasks.ngram`.
"""

from __future__ import annotations

import time
from pathlib import Path

from rnnlab.data.lines import read_lines, resolve_corpus
from rnnlab.errors import DataError, UserError
from rnnlab.lm.ngram import NGramModel, perplexity
from rnnlab.paths import resolve_model_dir
from rnnlab.poetry.evaluation import format_poem_evaluation, is_poem_corpus, poem_evaluation
from rnnlab.tasks.registry import EvalRequest

__all__ = ["evaluate", "format_evaluation", "format_info", "info", "load_language_model"]


def load_language_model(path: str | Path) -> NGramModel:
    return NGramModel.load(path)


def evaluate(path: str | Path, request: EvalRequest) -> dict:
    """Log-probability and perplexity of a split of the model's corpus, or of a text file; for a character
    model of poems also its free samples' shape, rhyme and meter beside them (`rnnlab.poetry.evaluation`)."""
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
    index_seconds = model.build_lookup_indexes()  # once per model, like KenLM loading its tables
    start = time.perf_counter()
    total, count, oov = model.corpus_logprob(sentences)  # batched: tokenisation and lookups vectorised
    seconds = time.perf_counter() - start
    result = {"data": what, "sentences": len(sentences), "tokens": count, "oov": oov, "logprob": total,
              "ppl": perplexity(total, count), "tokens_per_second": count / max(seconds, 1e-9),
              "index_seconds": index_seconds}  # fmt: skip
    if model.config.level == "char" and is_poem_corpus(sentences):  # its free samples' rhyme and meter beside them
        result["poems"] = poem_evaluation(model, sentences, _training_lines(model.config.corpus))
    return result


def _training_lines(corpus: str | None) -> list[str] | None:
    """The lines the model was counted from (what copying is checked against), or None if they cannot be
    read here (no corpus recorded, a user's file that moved, a dataset not fetched on this machine)."""
    if corpus is None:
        return None
    try:
        return list(resolve_corpus(corpus, "train")[0]())
    except (UserError, OSError):
        return None


def format_evaluation(result: dict) -> str:
    return (f"{result['data']}: {result['sentences']} sentences, {result['tokens']} tokens (words + </s>), "
            f"{result['oov']} out-of-vocabulary\nlog-prob {result['logprob']:.2f} nats "
            f"({result['logprob'] / 2.302585092994046:.2f} log10)  perplexity {result['ppl']:.2f}  "
            f"({result['tokens_per_second']:,.0f} tokens/s; lookup index built in {result['index_seconds']:.2f} s)"
            + (f"\n{format_poem_evaluation(result['poems'])}" if "poems" in result else ""))  # fmt: skip


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

"""`rnnlab demo`: the chapter's two language models on the embedded Tang poems, side by side.

In one run, with nothing fetched:

1. a character 3-gram model with modified Kneser-Ney smoothing is counted from the training poems (about
   a second; saved in `<output_dir>/ngram`);
2. a character RNN language model trains for a wall-clock budget (`--minutes`, default 4;
   `trainer.max_minutes`, so the cosine lr schedule follows the clock) on the machine's idle cores (up
   to 4 torch threads, restored afterwards; `--threads N` to choose), evaluated on the validation poems every `EVAL_EVERY`
   steps; `--steps N` trains exactly N steps instead (tests);
3. the report (printed and written to `<output_dir>/report.md`) puts them side by side: test perplexity
   and bits per character on the same test poems, 64 free samples of each with their poem quality
   (regular shape, repeated characters, copied training couplets), form-constrained and acrostic
   poems of the RNN, and both models' scores of a plausible sentence and its scrambled copy.
   `loss_curve.png` shows the RNN's train and validation loss with the 3-gram's test loss as a line.

Ctrl-C during training stops after the current step; the Trainer then evaluates and writes `best/` and
`last/` as at the end of a run, and the demo exits without the report (a second Ctrl-C aborts at once).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from copy import deepcopy
from pathlib import Path
from typing import Any

import torch

from rnnlab.config import config_from_dict, config_to_dict
from rnnlab.data.corpora import Corpus, load_corpus
from rnnlab.data.poetry import PoemQuality, poem_form, poem_quality
from rnnlab.errors import UserError
from rnnlab.files import write_text_atomically
from rnnlab.lm.interface import SentenceScore
from rnnlab.lm.ngram import NGramModel, perplexity
from rnnlab.paths import check_writable
from rnnlab.poetry.evaluation import POEM_SAMPLING, poem_samples
from rnnlab.poetry.rhyme import RhymeRate, chance_rate, rhyme_rate
from rnnlab.tasks import language_model
from rnnlab.tasks.language_model import LMTaskConfig, load_language_model
from rnnlab.train.metrics import plot_loss_curve, read_metrics
from rnnlab.train.run import build_trainer
from rnnlab.train.rundir import check_not_inside_a_run, guard_run_directory, holds_run

# The demo's recipe: what learned most in a fixed wall-clock budget on 2 CPU cores among the candidates
# measured with benchmarks/demo_recipes.py (table in docs/language_models.md). configs/lm/tang-char.yaml
# holds the same settings with an epoch count instead of the time budget.
DEMO_CONFIG: dict[str, Any] = {
    "data": {"corpus": "tang", "level": "char"},
    "model": {"cell": "gru", "embedding_size": 256, "hidden_size": 256, "num_layers": 1, "dropout": 0.3,
              "tie_weights": True, "line_positions": 16, "rhyme_memory": True},  # fmt: skip
    "trainer": {"optimizer": "adam", "lr": 0.005, "schedule": "cosine", "clip_grad_norm": 1.0,
                "log_every": 25, "max_epochs": None, "progress": True},  # fmt: skip
    "batch_size": 32,
    "bptt": 64,
    "eval_batch_size": 16,
}
REPORT_FILE = "report.md"  # written next to the run; a user's own file of this name is never replaced
EVAL_EVERY = 100  # steps; one validation pass over the 12,917 validation characters takes about a second
DEFAULT_MINUTES = 4.0
NGRAM_ORDER = 3
# The chapter's plausible sentence, its scrambled copy, and a second plausible one.
SENTENCES = ["那只猫在作报告!", "! 在报那猫告做只", "那个人在作报告!"]
FREE_SAMPLES = 64
# How both models write their samples: the `generate` verb's options (what `rnnlab generate` takes), the
# same as `rnnlab eval` of a poem model.
SAMPLING = POEM_SAMPLING


# ------------------------------------------------------------------------------------------- checks
def check_budget(minutes: float | None, steps: int | None) -> None:
    """One-line UserErrors for a budget that is not a finite positive number of minutes or steps."""
    if steps is not None and steps < 1:
        raise UserError(f"--steps must be an integer >= 1, got {steps}")
    if steps is None and (minutes is None or not math.isfinite(minutes) or minutes <= 0):
        raise UserError(f"--minutes must be a finite number of minutes > 0, got {minutes}")


def prepare_output_dir(output_dir: str | Path, overwrite: bool = False) -> Path:
    """Create `output_dir` (or check it is writable); refuse one that holds another run.

    A directory with `best/` or `last/` holds a trained model: the demo would replace it, so it asks for
    `--overwrite` (the run-directory guard then moves the old run aside to `DIR.old-<time>`, deleting
    nothing) or another directory.
    """
    check_not_inside_a_run(output_dir)  # before anything is created there
    path = check_writable(output_dir, "output directory")  # a file, or no way to write there: one line
    previous = [name for name in ("best", "last") if (path / name).exists()]
    if previous and not overwrite:
        raise UserError(
            f"{path} already holds a trained run ({', '.join(p + '/' for p in previous)}); "
            "pass --overwrite to replace it, or --output-dir DIR"
        )
    if (path / REPORT_FILE).exists() and not holds_run(path):  # the user's own report.md: the demo would replace it
        raise UserError(f"{path} holds a {REPORT_FILE} that no demo wrote; move it away, or choose another --output-dir")
    path.mkdir(parents=True, exist_ok=True)
    return path


def idle_cores(seconds: float = 0.5) -> float | None:
    """How many of the machine's cores were idle over the next `seconds` (from /proc/stat; None where
    that cannot be read). Unlike the load average, it does not remember the install that just ran."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as handle:
            values = [int(v) for v in handle.readline().split()[1:]]
        return values[3] + values[4], sum(values)  # idle + iowait, all

    try:
        idle0, total0 = sample()
        time.sleep(seconds)
        idle1, total1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    if total1 <= total0:
        return None
    return (idle1 - idle0) / (total1 - total0) * (os.cpu_count() or 1)


def default_threads() -> int:
    """Torch threads for the demo: the cores this process may use that other work leaves idle (measured
    over half a second), at least 1 and at most 4 (a small GRU gains nothing from more).

    On a busy machine, OpenMP threads that wait for each other's cores make small kernels several times
    slower than one thread does, so the demo takes only the cores that are free.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    idle = idle_cores()
    free = cores if idle is None else int(idle + 0.5)
    return max(1, min(4, cores, free))


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Set torch's intra-op threads for the block, then restore the previous setting."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


# --------------------------------------------------------------------------------------- the models
def demo_config(
    output_dir: str | Path,
    minutes: float | None = DEFAULT_MINUTES,
    steps: int | None = None,
    seed: int = 1,
    recipe: Mapping[str, Any] | None = None,
) -> LMTaskConfig:
    """The RNN's config: `DEMO_CONFIG` (or `recipe` merged onto it), trained for `minutes` of wall clock
    or exactly `steps` steps."""
    data = deepcopy(DEMO_CONFIG)
    for key, value in (recipe or {}).items():  # "model.hidden_size": 384, ...
        *sections, leaf = key.split(".")
        node = data
        for section in sections:
            node = node.setdefault(section, {})
        node[leaf] = value
    trainer = data["trainer"]
    trainer["seed"] = seed
    trainer.setdefault("eval_every", EVAL_EVERY)
    if steps is not None:
        trainer.update(max_steps=steps, max_minutes=None, eval_every=max(1, min(trainer["eval_every"], steps // 2)))
    else:
        trainer.update(max_minutes=minutes)
    return config_from_dict(LMTaskConfig, {**data, "output_dir": str(output_dir)}, source="rnnlab demo")


def lines_of(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.strip()]


def train_ngram(corpus: Corpus, order: int = NGRAM_ORDER) -> tuple[NGramModel, dict[str, float]]:
    """A character n-gram MKN model of the training poems and its test loss / perplexity / bits per char.

    Each poem is a sentence: the model predicts every character and the poem's end, as the RNN does.
    """
    start = time.perf_counter()
    model = NGramModel.train(lines_of(corpus.train), order, "mkn", level="char", corpus_name=corpus.name)
    seconds = time.perf_counter() - start
    total, count, oov = model.corpus_logprob(lines_of(corpus.test))
    loss = -total / count
    return model, {"loss": loss, "ppl": perplexity(total, count), "bpc": loss / math.log(2), "tokens": count,
                   "unknown": oov, "seconds": seconds}  # fmt: skip


def rnn_test_metrics(lm, corpus: Corpus, config: LMTaskConfig) -> dict[str, float]:
    return lm.evaluate_text(corpus.test, batch_size=config.eval_batch_size, bptt=config.bptt)


# ------------------------------------------------------------------------------------------- report
def _quality_line(name: str, quality: PoemQuality, rhyme: RhymeRate) -> str:
    return (f"| {name} | {quality.regular:.0%} | {rhyme.rate:.0%} ({rhyme.rhyming}/{rhyme.measured}) "
            f"| {quality.repeated_chars:.1%} "
            f"| {quality.copied_samples:.0%} | {quality.copied_lines:.0%} |")  # fmt: skip


def _score_cell(score: SentenceScore) -> str:
    unknown = f" (`<unk>`: {' '.join(score.unknown)})" if score.unknown else ""
    return f"{score.total_logprob:.1f}{unknown}"


def build_report(r: dict[str, Any]) -> str:
    rnn, ngram = r["rnn"], r["ngram"]
    ratio = rnn["ppl"] / ngram["ppl"]
    model = r["model"]
    lines = [
        "# rnnlab demo: two language models of Tang poems",
        "",
        f"Corpus: {r['train_chars']:,} training characters of regular Tang poems ({r['vocab']:,} symbols). "
        f"Both models are measured on the same {r['test_poems']:,} held-out test poems: {ngram['tokens']:,} "
        f"characters with the poem ends (the RNN reads them as {r['eval_streams']} parallel streams and "
        f"predicts {rnn['tokens']:,} of them).",
        "",
        "| | character 3-gram (MKN) | character RNN |",
        "|---|---:|---:|",
        f"| model | {r['ngram_counts']} n-grams | {model} |",
        f"| training | {ngram['seconds']:.1f} s | {r['steps']:,} steps in {r['train_minutes']:.1f} min "
        f"({r['threads']} thread{'s' if r['threads'] != 1 else ''}) |",
        f"| test perplexity | {ngram['ppl']:.1f} | **{rnn['ppl']:.1f}** ({ratio:.2f}x the 3-gram's) |",
        f"| test bits per character | {ngram['bpc']:.3f} | **{rnn['bpc']:.3f}** |",
        "",
        f"## Poem quality of {r['free_count']} free samples (temperature {SAMPLING.temperature}, "
        f"top-k {SAMPLING.top_k}, top-p {SAMPLING.top_p})",
        "",
        "| model | regular shape | rhyme (Pingshui) | repeated characters in a line | samples copying a training "
        "couplet | lines copied from training |",
        "|---|---:|---:|---:|---:|---:|",
        _quality_line("3-gram", r["ngram_quality"], r["ngram_rhyme"]),
        _quality_line("RNN", r["rnn_quality"], r["rnn_rhyme"]),
        "",
        "Regular shape: 4 or 8 lines of 5 or 7 characters, each followed by one mark, ending in 。！？.",
        f"Rhyme: the even lines' final characters share a Pingshui rhyme group (平水韵; rnnlab.poetry), over the "
        f"samples the table can measure; the corpus's test poems rhyme {r['corpus_rhyme'].rate:.0%}, the same "
        f"poems with random even-line ends (chance) {r['chance_rhyme'].rate:.0%}. See docs/poetry.md.",
        *(["The RNN's softmax is told which line of the poem it is in (`model.line_positions`, counted from the "
           "characters it has written)" + (" and the last character of the latest even line (`model.rhyme_memory`)"
                                           if r.get("rhyme_memory") else "")
           + "; it still chooses every character and where the poem ends: nothing picks rhyme characters."]
          if r.get("line_positions") else []),
        "",
        "## Free samples",
        "",
        "3-gram:",
        *[f"- {text}  ({poem_form(text) or 'irregular'})" for text in r["ngram_samples"][:4]],
        "",
        "RNN:",
        *[f"- {text}  ({poem_form(text) or 'irregular'})" for text in r["rnn_samples"][:8]],
        "",
        "## RNN poems of a given form (always exact: the template fixes lengths and punctuation)",
        "",
        *[f"- {form}: {poem}" for form, poems in r["forms"].items() for poem in poems],
        *[f"- acrostic {r['acrostic_key']}: {poem}" for poem in r["acrostic"]],
        "",
        "## Which sentence is more plausible? (log P in nats; higher is more plausible)",
        "",
        "| sentence | 3-gram | RNN |",
        "|---|---:|---:|",
        *[f"| {a.text} | {_score_cell(a)} | {_score_cell(b)} |" for a, b in zip(r["ngram_scores"], r["rnn_scores"])],
        "",
        "Both models know only Tang poems: 猫, 做 and the ASCII '!' never occur there and count as `<unk>`.",
        "For modern Chinese see docs/language_models.md (`configs/lm/zh-news-char.yaml`).",
        "",
        "Files: loss_curve.png (the RNN's losses, the 3-gram's test loss dashed), best/ and last/ (the RNN), "
        "ngram/ (the 3-gram).",
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------- run
def run_demo(
    output_dir: str = "runs/demo",
    minutes: float = DEFAULT_MINUTES,
    seed: int = 1,
    steps: int | None = None,
    *,
    overwrite: bool = False,
    threads: int | None = None,
    free_count: int = FREE_SAMPLES,
    callbacks: Sequence[Any] = (),
) -> dict[str, Any]:
    """Train both models, then print and write the report; returns its numbers.

    `steps` trains exactly that many steps instead of `minutes` of wall clock. Returns
    {"interrupted": True, ...} without a report when Ctrl-C stopped the training.
    """
    check_budget(minutes, steps)
    threads = threads or default_threads()
    if threads < 1:
        raise UserError(f"--threads must be >= 1, got {threads}")
    out = prepare_output_dir(output_dir, overwrite)
    config = demo_config(out, minutes, steps, seed)
    # The same guard as `rnnlab train`: a lock, run.yaml, and --overwrite moves an old run aside.
    with guard_run_directory(out, "lm", overwrite=overwrite, settings=config_to_dict(config)):
        with torch_threads(threads):
            return _run(out, config, minutes, steps, threads, free_count, callbacks, seed)


def _run(out: Path, config: LMTaskConfig, minutes, steps, threads, free_count, callbacks, seed) -> dict[str, Any]:
    corpus = load_corpus("tang")
    ngram, ngram_test = train_ngram(corpus)
    ngram.save(out / "ngram")
    setup = language_model.build(config, corpus)
    task = setup.task
    m = config.model
    line_note = (" + line positions" if m.line_positions else "") + (" + rhyme memory" if m.rhyme_memory else "")
    model_text = (f"{m.cell.upper()} {m.num_layers}x{m.hidden_size}{line_note}, "
                  f"{sum(p.numel() for p in task.model.parameters()):,} parameters")  # fmt: skip
    budget = f"{steps} steps" if steps is not None else f"{minutes:g} min of wall clock"
    print(f"rnnlab demo: Tang poems, {len(corpus.train):,} training characters, {len(task.vocab):,} symbols\n"
          f"  character {NGRAM_ORDER}-gram MKN: counted in {ngram_test['seconds']:.1f} s, "
          f"test perplexity {ngram_test['ppl']:.1f}\n"
          f"  character RNN ({model_text}): training for {budget} on {threads} threads "
          f"(Ctrl-C stops early and keeps the model)", flush=True)  # fmt: skip
    # Ctrl-C ends training like the time budget does (final evaluation, best/ and last/); no report follows.
    trainer = build_trainer(setup, config.trainer, out, callbacks=callbacks, handle_signals="finish")
    started = time.perf_counter()
    summary = trainer.fit()
    train_minutes = (time.perf_counter() - started) / 60
    model_dir = summary["best_checkpoint"] or summary["last_checkpoint"]
    if summary.get("stop_reason") == "interrupted":
        print(f"rnnlab demo: interrupted at step {summary['steps']}; the model so far is in {model_dir} "
              f"(and {summary['last_checkpoint']}); no report", flush=True)  # fmt: skip
        return {"interrupted": True, "steps": summary["steps"], "best": summary["best_checkpoint"],
                "last": summary["last_checkpoint"]}  # fmt: skip

    lm = load_language_model(model_dir)
    rnn_test = rnn_test_metrics(lm, corpus, config)
    training_poems = lines_of(corpus.train)
    rnn_samples = poem_samples(lm, free_count, seed)
    ngram_samples = poem_samples(ngram, free_count, seed)
    forms = {form: poem_samples(lm, 2, seed, form=form) for form in ("五言绝句", "七言律诗")}
    acrostic_key = "春夏秋冬"
    acrostic = poem_samples(lm, 2, seed, acrostic=acrostic_key)
    result = {
        "rnn": rnn_test,
        "ngram": ngram_test,
        "ratio": rnn_test["ppl"] / ngram_test["ppl"],
        "model": model_text,
        "line_positions": m.line_positions,
        "rhyme_memory": m.rhyme_memory,
        "vocab": len(task.vocab),
        "train_chars": len(corpus.train),
        "test_poems": len(lines_of(corpus.test)),
        "eval_streams": config.eval_batch_size,
        "ngram_counts": " / ".join(f"{c:,}" for c in ngram.config.counts),
        "steps": summary["steps"],
        "stop_reason": summary["stop_reason"],
        "train_minutes": train_minutes,
        "threads": threads,
        "free_count": free_count,
        "rnn_samples": rnn_samples,
        "ngram_samples": ngram_samples,
        "rnn_quality": poem_quality(rnn_samples, training_poems),
        "ngram_quality": poem_quality(ngram_samples, training_poems),
        "rnn_rhyme": rhyme_rate(rnn_samples),
        "ngram_rhyme": rhyme_rate(ngram_samples),
        "corpus_rhyme": rhyme_rate(lines_of(corpus.test)),
        "chance_rhyme": chance_rate(lines_of(corpus.test)),
        "forms": forms,
        "acrostic_key": acrostic_key,
        "acrostic": acrostic,
        "rnn_scores": lm.score(SENTENCES),
        "ngram_scores": ngram.score(SENTENCES),
        "model_dir": model_dir,
    }
    report = build_report(result)
    write_text_atomically(out / REPORT_FILE, report)
    records = read_metrics(out / "metrics.jsonl")
    plot_loss_curve(records, out / "loss_curve.png", title="rnnlab demo: character RNN on Tang poems (nats/char)",
                    reference=(ngram_test["loss"], f"character {NGRAM_ORDER}-gram MKN, test"))  # fmt: skip
    print()
    print(report)
    print(f"report: {out / 'report.md'}   loss curve: {out / 'loss_curve.png'}")
    print(f"try:  rnnlab generate {out} --acrostic 江山如画   |   rnnlab score {out} \"床前明月光\"   |   "
          f"rnnlab score {out / 'ngram'} \"床前明月光\"")  # fmt: skip
    return result

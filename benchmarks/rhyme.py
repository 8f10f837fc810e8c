"""Do generated Tang poems rhyme? Rhyme and tonal meter (Pingshui scheme) of the corpus vs the models.

Rows: the embedded corpus's test poems, the same poems with their even-line final characters drawn at
random (chance; for the meter, every character drawn at random), free samples of a character 3-gram and of the RNN (the `generate` verb with the demo's
sampling settings), and the RNN's rhyme-constrained samples (`generate --rhyme auto`), free and as
五言律诗. Columns: regular shape, rhyme rate (over the poems the table can measure; unknown ones counted
apart), the rougher modern measure (`rnnlab.poetry.pinyin`: pypinyin finals in the 13 classes of 十三辙;
`pip install pypinyin`), level-tone rhyme, a rhyme character used twice (重韵), meter (poems that fit a regulated-verse scheme at the 2nd/4th/6th and final
characters; lines that fit), and the side effects of the constraint: each sample's perplexity under
the RNN itself and under the 3-gram (lower = closer to what the corpus makes likely), and characters
repeated in a line / lines copied from training (`rnnlab.data.poetry.poem_quality`).

    python benchmarks/rhyme.py --model runs/demo                # a trained demo (rnnlab demo)
    python benchmarks/rhyme.py --minutes 4 --threads 1          # trains the demo's recipe first
    python benchmarks/rhyme.py --model runs/demo --samples 256 --seed 1
    python benchmarks/rhyme.py --steps 500 --set model.rhyme_memory=false   # the demo recipe without rhyme memory
    python benchmarks/rhyme.py --model runs/tang-full --corpus tang-full     # the 30-minute preset, its own test split

Constrained samples pick rhyme characters on purpose: they are never the free-sample figures.
"""

from __future__ import annotations

import argparse
import math
import random
import tempfile
import time
from pathlib import Path

import torch

from rnnlab.data.corpora import load_corpus
from rnnlab.data.poetry import PUNCTUATION, poem_form, poem_quality
from rnnlab.demo import SAMPLING, demo_config, lines_of, train_ngram
from rnnlab.poetry.evaluation import poem_samples
from rnnlab.poetry.meter import meter_rate
from rnnlab.poetry.pingshui import pingshui_table
from rnnlab.poetry.pinyin import pinyin_rhyme_rate
from rnnlab.poetry.rhyme import chance_rate, check_rhyme, repeated_rhyme_rate, rhyme_rate, with_random_ends
from rnnlab.tasks import language_model
from rnnlab.tasks.language_model import load_language_model
from rnnlab.train.run import build_trainer


def parse_settings(settings: list[str]) -> dict:
    """`model.rhyme_memory=false` ... -> {"model.rhyme_memory": False} (values read as YAML scalars)."""
    import yaml

    recipe = {}
    for setting in settings:
        key, sep, value = setting.partition("=")
        if not sep:
            raise SystemExit(f"--set expects KEY=VALUE, got {setting!r}")
        recipe[key] = yaml.safe_load(value)
    return recipe


def train_rnn(minutes: float, steps: int | None, seed: int, out: Path, recipe: dict) -> Path:
    """The demo's recipe (with `recipe` merged on) trained for `minutes` (or exactly `steps` steps) into
    `out`; returns the best model."""
    config = demo_config(out, minutes=minutes, steps=steps, seed=seed, recipe=recipe)
    setup = language_model.build(config, load_corpus("tang"))
    summary = build_trainer(setup, config.trainer, out).fit()
    return Path(summary["best_checkpoint"] or summary["last_checkpoint"])


def level_rhyme(poems: list[str]) -> float:
    """Of the rhyming poems, those whose shared group is a level-tone (平) one."""
    table = pingshui_table()
    groups = [check_rhyme(p).groups for p in poems if any(c.strip() for c in p)]
    rhyming = [g for g in groups if g]
    return sum(any(table.groups[name].tone == "平" for name in g) for g in rhyming) / max(1, len(rhyming))


def perplexity(model, poems: list[str]) -> float:
    """Per-character perplexity of `poems` (each with its end) under `model`; unknown symbols are skipped
    by the 3-gram's own accounting."""
    scores = model.score([p for p in poems if p.strip()])
    total = sum(s.total_logprob for s in scores)
    count = sum(len(s.token_logprobs) for s in scores)
    return math.exp(-total / count)


def shuffled_characters(poems: list[str], seed: int = 0) -> list[str]:
    """The poems with every character replaced by one drawn at random from all their characters (marks
    kept): the meter of text with the corpus's tones in no order."""
    rng = random.Random(seed)
    chars = [c for p in poems for c in p if c not in PUNCTUATION]
    return ["".join(c if c in PUNCTUATION else rng.choice(chars) for c in p) for p in poems]


def row(name: str, poems: list[str], training: list[str], rnn, ngram, *, chance: bool = False) -> str:
    rhyme = chance_rate(poems, seed=0) if chance else rhyme_rate(poems)
    meter = meter_rate(shuffled_characters(poems) if chance else poems)
    modern = pinyin_rhyme_rate(with_random_ends(poems) if chance else poems)
    quality = poem_quality(poems, training)
    regular = sum(poem_form(p) is not None for p in poems) / len(poems)
    ppl = "—" if chance else f"{perplexity(rnn, poems):.0f} / {perplexity(ngram, poems):.0f}"
    return (f"| {name} | {len(poems)} | {regular:.0%} | **{rhyme.rate:.0%}** ({rhyme.rhyming}/{rhyme.measured}; {rhyme.unknown} unknown) | {modern.rate:.0%} | "
            f"{'—' if chance else f'{level_rhyme(poems):.0%}'} | {'—' if chance else f'{repeated_rhyme_rate(poems):.0%}'} | {meter.rate:.0%} / {meter.line_rate:.0%} | "
            f"{ppl} | {'—' if chance else f'{quality.repeated_chars:.1%}'} | {'—' if chance else f'{quality.copied_lines:.1%}'} | "
            f"{'—' if chance else f'{quality.copied_samples * quality.samples:.0f}'} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a trained Tang LM (run directory or model directory)")
    parser.add_argument("--minutes", type=float, default=4.0, help="train the demo recipe this long if no --model")
    parser.add_argument("--steps", type=int, help="train exactly this many steps instead of --minutes (a comparison "
                        "that a busy machine cannot skew)")  # fmt: skip
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--corpus", default="tang", help="the poems whose test split is the corpus row (and the "
                        "3-gram's training text): tang (embedded) or tang-full")  # fmt: skip
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="change the demo recipe before training, e.g. model.rhyme_memory=false")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    corpus = load_corpus(args.corpus)
    training = lines_of(corpus.train)
    test = lines_of(corpus.test)
    started = time.perf_counter()
    ngram, ngram_test = train_ngram(corpus)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(args.model) if args.model else train_rnn(args.minutes, args.steps, args.seed, Path(tmp) / "rnn",
                                                                         parse_settings(args.set))
        rnn = load_language_model(model_dir)
        rnn_test = rnn.evaluate_text(corpus.test, batch_size=16, bptt=64)
        n, seed = args.samples, args.seed
        rows = [
            row("corpus (test poems)", test, training, rnn, ngram),
            row("chance (random even-line ends; meter: random characters)", test, training, rnn, ngram, chance=True),
            row("3-gram, free", poem_samples(ngram, n, seed), training, rnn, ngram),
            row("RNN, free", poem_samples(rnn, n, seed), training, rnn, ngram),
            row("RNN, `--rhyme auto`", poem_samples(rnn, n, seed, rhyme="auto"), training, rnn, ngram),
            row("RNN, `--form 五言律诗`", poem_samples(rnn, n, seed, form="五言律诗"), training, rnn, ngram),
            row("RNN, `--form 五言律诗 --rhyme auto`", poem_samples(rnn, n, seed, form="五言律诗", rhyme="auto"), training, rnn,
                ngram),  # fmt: skip
        ]
    print(f"model: {model_dir}   samples: {n} per row, seed {seed}, temperature {SAMPLING.temperature}, "
          f"top-k {SAMPLING.top_k}, top-p {SAMPLING.top_p}   ({time.perf_counter() - started:.0f} s)")
    print(f"test perplexity on {corpus.name} test ({ngram_test['tokens']:,} characters and poem ends): RNN "
          f"{rnn_test['ppl']:.1f} ({rnn_test['unknown']:,} mapped to <unk>), character 3-gram {ngram_test['ppl']:.1f} "
          f"({ngram_test['unknown']:,} unknown): ratio {rnn_test['ppl'] / ngram_test['ppl']:.2f}\n")
    print("| poems | n | regular shape | rhyme (Pingshui) | rhyme (modern 十三辙) | level-tone rhyme | rhyme char repeated | meter: poems / lines | "
          "perplexity: RNN / 3-gram | repeated chars in a line | lines copied from training | samples with a copied couplet |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()

"""PTB word-level language model: test perplexity, training time, and the sentence-scoring sanity check.

    python benchmarks/lm_ptb.py                                   # train configs/lm/ptb-small.yaml, then measure
    python benchmarks/lm_ptb.py --run runs/ptb-small              # measure an already trained run
    python benchmarks/lm_ptb.py --max-epochs 1 --output-dir runs/ptb-1epoch   # a shorter budget

Reports the test perplexity (words plus </s>, 82,430 tokens, the Mikolov split), the wall time of training,
and the fraction of test sentences that score higher than a word-shuffled copy of themselves (target
>= 98%). Targets from the literature: Zaremba et al. (2014) small 114.5, medium 82.7.
"""

from __future__ import annotations

import argparse
import random
import time

from rnnlab.config import load_config
from rnnlab.data.corpora import load_corpus
from rnnlab.tasks.language_model import LMTaskConfig, build, load_language_model
from rnnlab.train.run import train_task


def shuffle_sanity(lm, sentences: list[str], seed: int = 0) -> tuple[float, int]:
    """Fraction of sentences whose log-probability beats a word-shuffled copy (ties count as failures)."""
    rng = random.Random(seed)
    originals, shuffled = [], []
    for sentence in sentences:
        words = sentence.split()
        if len(words) < 2 or len(set(words)) < 2:
            continue
        copy = words[:]
        while copy == words:
            rng.shuffle(copy)
        originals.append(sentence)
        shuffled.append(" ".join(copy))
    wins = 0
    for start in range(0, len(originals), 256):
        a = lm.score(originals[start : start + 256])
        b = lm.score(shuffled[start : start + 256])
        wins += sum(x.total_logprob > y.total_logprob for x, y in zip(a, b))
    return wins / len(originals), len(originals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/lm/ptb-small.yaml")
    parser.add_argument("--run", default=None, help="measure this trained run instead of training")
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--output-dir", default=None)
    args = parser.parse_args()
    train_seconds = None
    run = args.run
    if run is None:
        overrides = ["--trainer.progress", "false"]
        if args.max_epochs:
            overrides += ["--trainer.max_epochs", str(args.max_epochs)]
        if args.output_dir:
            overrides += ["--output_dir", args.output_dir]
        config = load_config(LMTaskConfig, args.config, overrides)
        start = time.perf_counter()
        summary = train_task(build, config)
        train_seconds = time.perf_counter() - start
        run = summary["output_dir"]
    lm = load_language_model(run)
    corpus = load_corpus("ptb")
    start = time.perf_counter()
    metrics = lm.evaluate_text(corpus.test)
    eval_seconds = time.perf_counter() - start
    fraction, count = shuffle_sanity(lm, [line for line in corpus.test.splitlines() if line.strip()])
    print("| run | test ppl | train time | test scoring | shuffled sentences beaten |\n|---|---:|---:|---:|---:|")
    trained = f"{train_seconds / 60:.1f} min" if train_seconds else "(given)"
    print(f"| {run} | {metrics['ppl']:.2f} | {trained} | {metrics['tokens'] / eval_seconds:,.0f} tokens/s | "
          f"{fraction:.2%} of {count:,} |")  # fmt: skip


if __name__ == "__main__":
    main()

"""Which RNN recipe learns most about Tang poems in a fixed wall-clock budget? (`rnnlab demo`'s choice)

Every candidate trains with the demo's machinery (`rnnlab.demo.demo_config`: cosine lr over the
budget, `trainer.max_minutes`) for the same number of minutes, one after the other in this process, with
the same torch threads; then test perplexity and the quality of 64 free samples are measured. On a
shared machine the absolute step counts move with the load; run the candidates back to back, and repeat
(`--rounds 2` alternates the order) before trusting a small difference.

    python benchmarks/demo_recipes.py --minutes 3                   # every candidate, 3 min each
    python benchmarks/demo_recipes.py --minutes 3 --only base tied   # some of them
    python benchmarks/demo_recipes.py --steps 400 --threads 1        # a fixed step count (a busy machine)

On a machine that other jobs load, a wall-clock budget measures the load more than the recipe; `--steps`
compares what each recipe learns per step, and s/step (training wall time, evaluations included, per
step) their relative cost under the same conditions.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time

import torch

from rnnlab.data.corpora import load_corpus
from rnnlab.data.poetry import poem_quality
from rnnlab.demo import demo_config, lines_of, rnn_test_metrics, train_ngram
from rnnlab.poetry.evaluation import poem_samples
from rnnlab.tasks import language_model
from rnnlab.tasks.language_model import load_language_model
from rnnlab.train.run import build_trainer

# Every candidate names its cell and batch shape: they are merged onto the demo's current recipe.
TIED = {"model.cell": "lstm", "model.embedding_size": 256, "model.hidden_size": 256, "model.tie_weights": True,
        "model.dropout": 0.2, "batch_size": 32, "bptt": 64, "trainer.lr": 0.003,
        "model.line_positions": 0}  # fmt: skip
# The shipped recipe (GRU, dropout 0.3, lr 0.005, batch 32 x bptt 64), with and without line positions.
SHIPPED = {**TIED, "model.cell": "gru", "trainer.lr": 0.005, "model.dropout": 0.3}
CANDIDATES: dict[str, dict] = {
    "base": {**TIED, "model.embedding_size": 128, "model.tie_weights": False, "model.dropout": 0.1},  # the old recipe
    "tied": {**TIED},
    "tied-gru": {**TIED, "model.cell": "gru"},
    "tied-lr5": {**TIED, "trainer.lr": 0.005},
    "tied-b64-bptt32": {**TIED, "batch_size": 64, "bptt": 32, "trainer.lr": 0.005},
    "tied-b16": {**TIED, "batch_size": 16},
    "tied-384": {**TIED, "model.embedding_size": 384, "model.hidden_size": 384, "model.dropout": 0.25},
    "tied-2x256": {**TIED, "model.num_layers": 2},
    "gru": {**TIED, "model.cell": "gru", "model.embedding_size": 128, "model.tie_weights": False,
            "model.dropout": 0.1},  # fmt: skip
    "tied-gru-d0.1": {**TIED, "model.cell": "gru", "model.dropout": 0.1},
    "tied-gru-b64-bptt32": {**TIED, "model.cell": "gru", "batch_size": 64, "bptt": 32, "trainer.lr": 0.005},
    "tied-gru-lr5": {**TIED, "model.cell": "gru", "trainer.lr": 0.005},
    "tied-gru-lr5-d0.3": {**TIED, "model.cell": "gru", "trainer.lr": 0.005, "model.dropout": 0.3},
    "tied-gru-lr5-d0.3-b16-bptt128": {**TIED, "model.cell": "gru", "trainer.lr": 0.005, "model.dropout": 0.3,
                                      "batch_size": 16, "bptt": 128},  # fmt: skip
    "tied-gru-lr5-d0.3-bptt128": {**TIED, "model.cell": "gru", "trainer.lr": 0.005, "model.dropout": 0.3,
                                  "bptt": 128},  # fmt: skip
    "tied-gru-lr5-d0.35": {**TIED, "model.cell": "gru", "trainer.lr": 0.005, "model.dropout": 0.35},
    "tied-lstm-lr5-d0.3": {**TIED, "trainer.lr": 0.005, "model.dropout": 0.3},
    "shipped": {**SHIPPED, "model.line_positions": 16},
    "shipped-no-lines": {**SHIPPED},
    "shipped-lstm": {**SHIPPED, "model.cell": "lstm", "model.line_positions": 16},
    "shipped-384": {**SHIPPED, "model.embedding_size": 384, "model.hidden_size": 384, "model.line_positions": 16},
    "shipped-512-d0.4": {**SHIPPED, "model.embedding_size": 512, "model.hidden_size": 512, "model.dropout": 0.4,
                         "model.line_positions": 16},  # fmt: skip
    "tied-gru-384": {**TIED, "model.cell": "gru", "model.embedding_size": 384, "model.hidden_size": 384,
                     "model.dropout": 0.25},  # fmt: skip
}


def run(name: str, minutes: float | None, steps: int | None, seed: int, corpus, ngram_ppl: float) -> dict:
    recipe = CANDIDATES[name]
    with tempfile.TemporaryDirectory(prefix=f"recipe-{name}-") as out:
        config = demo_config(out, minutes=minutes, steps=steps, seed=seed,
                             recipe={**recipe, "trainer.progress": False})  # fmt: skip
        setup = language_model.build(config, corpus)
        task = setup.task
        start = time.perf_counter()
        summary = build_trainer(setup, config.trainer, out).fit()
        seconds = time.perf_counter() - start
        lm = load_language_model(summary["best_checkpoint"])
        test = rnn_test_metrics(lm, corpus, config)
        samples = poem_samples(lm, 64, seed)
        quality = poem_quality(samples, lines_of(corpus.train))
    tokens = summary["steps"] * config.batch_size * config.bptt
    return {"name": name, "steps": summary["steps"], "tokens": tokens, "seconds": seconds,
            "step_seconds": seconds / max(1, summary["steps"]), "ppl": test["ppl"],
            "bpc": test["bpc"], "ratio": test["ppl"] / ngram_ppl, "regular": quality.regular,
            "copied": quality.copied_samples, "repeated": quality.repeated_chars,
            "params": sum(p.numel() for p in task.model.parameters())}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--steps", type=int, default=None, help="train every candidate this many steps instead")
    parser.add_argument("--only", nargs="*", default=None, choices=sorted(CANDIDATES))
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    corpus = load_corpus("tang")
    _, ngram = train_ngram(corpus)
    names = args.only or list(CANDIDATES)
    budget = f"{args.steps} steps" if args.steps else f"{args.minutes:g} min"
    print(f"torch {torch.__version__}, {args.threads} threads, {budget} per candidate; "
          f"character 3-gram MKN test perplexity {ngram['ppl']:.1f}", flush=True)  # fmt: skip
    print(f"{'recipe':18} {'params':>10} {'steps':>6} {'Mtokens':>8} {'test ppl':>9} {'bpc':>6} {'x 3-gram':>8} "
          f"{'regular':>8} {'copied':>7} {'repeat':>7} {'s/step':>7}", flush=True)  # fmt: skip
    for round_index in range(args.rounds):
        for name in names if round_index % 2 == 0 else names[::-1]:
            r = run(name, args.minutes, args.steps, args.seed, corpus, ngram["ppl"])
            print(f"{r['name']:18} {r['params']:>10,} {r['steps']:>6} {r['tokens'] / 1e6:>8.2f} {r['ppl']:>9.1f} "
                  f"{r['bpc']:>6.3f} {r['ratio']:>8.2f} {r['regular']:>8.0%} {r['copied']:>7.0%} "
                  f"{r['repeated']:>7.1%} {r['step_seconds']:>7.3f}", flush=True)  # fmt: skip
            if not math.isfinite(r["ppl"]):
                print(f"  {name}: non-finite perplexity", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

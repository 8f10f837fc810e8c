"""Labelling benchmark: rnnlab taggers / classifiers against classical peers on the same splits.

Peers (install with `pip install -e .[bench] "torch==<your torch>"`):
- English POS (OANC): NLTK `PerceptronTagger(load=False).train(...)`, 5 iterations.
- NER (WNUT-16, People's Daily PER/LOC/ORG): sklearn-crfsuite with hand-made features, L-BFGS.
- Sentiment (Pang & Lee): TF-IDF (word 1-2 grams) + logistic regression (scikit-learn).
rnnlab side: saved model directories, evaluated on the test split; tagging throughput in sentences/s.

    nice -n 10 python benchmarks/labelling.py --peers en-pos en-ner zh-ner en-sentiment \
        --ours runs/tagger-en-pos runs/tagger-en-ner runs/tagger-zh-ner runs/classifier-en-sentiment \
        --throughput runs/tagger-en-pos runs/tagger-zh-ner --viterbi

Prints one table; each row gives the peer's score and ours on the identical test split.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from rnnlab.data.labelled import load_dataset
from rnnlab.labelling.metrics import accuracy, entity_scores


def word_features(tokens: list[str], i: int, chinese: bool) -> dict[str, object]:
    """Hand-made CRF features (the classic CoNLL feature set; characters for Chinese words)."""
    word = tokens[i]
    features: dict[str, object] = {"bias": 1.0, "w": word.lower(), "len": min(len(word), 6)}
    if chinese:
        features.update({"c0": word[0], "c-1": word[-1], "c01": word[:2], "c-2": word[-2:]})
    else:
        features.update({
            "suf3": word[-3:], "suf2": word[-2:], "pre3": word[:3], "title": word.istitle(),
            "upper": word.isupper(), "digit": word.isdigit(), "at": word.startswith("@"),
            "hash": word.startswith("#"), "url": word.startswith("http"),
        })
    for offset in (-2, -1, 1, 2):
        j = i + offset
        if 0 <= j < len(tokens):
            other = tokens[j]
            features[f"{offset}:w"] = other.lower()
            if not chinese:
                features[f"{offset}:title"] = other.istitle()
            else:
                features[f"{offset}:c-1"] = other[-1]
        else:
            features[f"{offset}:edge"] = True
    return features


def peer_pos(name: str) -> tuple[str, float, float]:
    from nltk.tag.perceptron import PerceptronTagger

    data = load_dataset(name)
    tagger = PerceptronTagger(load=False)
    start = time.perf_counter()
    tagger.train([list(zip(s.tokens, s.tags)) for s in data["train"]], nr_iter=5)
    seconds = time.perf_counter() - start
    test = data["test"]
    predicted = [[tag for _, tag in tagger.tag(s.tokens)] for s in test]
    return "NLTK perceptron, accuracy", accuracy([s.tags for s in test], predicted), seconds


def peer_ner(name: str) -> tuple[str, float, float]:
    import sklearn_crfsuite

    data = load_dataset(name)
    chinese = name.startswith("zh")

    def featurise(sentences):
        return [[word_features(s.tokens, i, chinese) for i in range(len(s.tokens))] for s in sentences]

    crf = sklearn_crfsuite.CRF(algorithm="lbfgs", c1=0.1, c2=0.1, max_iterations=100)
    start = time.perf_counter()
    crf.fit(featurise(data["train"]), [s.tags for s in data["train"]])
    seconds = time.perf_counter() - start
    predicted = crf.predict(featurise(data["test"]))
    f1 = entity_scores([s.tags for s in data["test"]], predicted)["micro"].f1
    return "sklearn-crfsuite, entity F1", f1, seconds


def peer_sentiment(name: str, extra_train: str | None = None) -> tuple[str, float, float]:
    """TF-IDF + logistic regression on `name`'s train split (plus `extra_train`'s, when given)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    data = load_dataset(name)
    if extra_train:
        data = {**data, "train": data["train"] + load_dataset(extra_train)["train"]}
    analyzer = "char" if name.startswith("zh") else "word"
    ngrams = (1, 3) if analyzer == "char" else (1, 2)
    model = make_pipeline(
        TfidfVectorizer(analyzer=analyzer, ngram_range=ngrams, sublinear_tf=True, min_df=1),
        LogisticRegression(C=4.0, max_iter=2000),
    )
    start = time.perf_counter()
    model.fit([x.text for x in data["train"]], [x.label for x in data["train"]])
    seconds = time.perf_counter() - start
    predicted = model.predict([x.text for x in data["test"]])
    right = sum(p == x.label for p, x in zip(predicted, data["test"]))
    return "TF-IDF + logistic regression, accuracy", right / len(data["test"]), seconds


PEERS = {
    "en-pos": peer_pos, "zh-pos": peer_pos,
    "en-ner": peer_ner, "zh-ner": peer_ner,
    "en-sentiment": peer_sentiment, "zh-sentiment": peer_sentiment,
}


def ours(path: str, batch_size: int) -> tuple[str, str, float, float]:
    """(dataset, metric name, test score, test sentences/s) of a saved rnnlab model."""
    from rnnlab.tasks.registry import resolve_model_dir

    path = str(resolve_model_dir(path))
    config = json.loads((Path(path) / "config.json").read_text())
    task = config["task"]
    if task == "tagger":
        from rnnlab.tasks.tagging import evaluate_dataset_split

        result = evaluate_dataset_split(path, "test", batch_size=batch_size)
        metric = "entity F1" if result.get("entity_f1") is not None else "accuracy"
        score = result["entity_f1"] if metric == "entity F1" else result["accuracy"]
        return config["data"]["dataset"], metric, score, result["sentences_per_second"]
    from rnnlab.tasks.classification import evaluate_dataset_split

    result = evaluate_dataset_split(path, "test", batch_size=batch_size)
    return config["data"]["dataset"], "accuracy", result["accuracy"], result["sentences_per_second"]


def throughput(path: str, batch_sizes: list[int]) -> None:
    """Tagging speed on the test split at several batch sizes (sentences/s), one thread."""
    from rnnlab.data.labelled import load_dataset
    from rnnlab.tasks.tagging import load_tagger

    tagger = load_tagger(path)
    sentences = load_dataset(tagger.config.data.dataset)["test"]
    tagger.predict_sentences(sentences[:64], 64)  # warm-up
    for batch_size in batch_sizes:
        subset = sentences if batch_size > 1 else sentences[:300]
        start = time.perf_counter()
        tagger.predict_sentences(subset, batch_size)
        speed = len(subset) / (time.perf_counter() - start)
        print(f"throughput {tagger.config.data.dataset:8s} batch {batch_size:4d}: {speed:7.0f} sentences/s", flush=True)


def viterbi_speed(num_tags: int = 9, batch: int = 256, length: int = 30) -> None:
    """Batched (vectorised) Viterbi against decoding the same sentences one at a time."""
    from rnnlab.nn.crf import CRF

    torch.manual_seed(0)
    crf = CRF(num_tags)
    emissions = torch.randn(batch, length, num_tags)
    lengths = torch.randint(5, length + 1, (batch,))
    mask = torch.arange(length)[None] < lengths[:, None]
    start = time.perf_counter()
    batched, _ = crf.decode(emissions, mask)
    batched_s = time.perf_counter() - start
    start = time.perf_counter()
    single = [crf.decode(emissions[i : i + 1, : lengths[i]])[0] for i in range(batch)]
    single_s = time.perf_counter() - start
    assert all(torch.equal(batched[i, : lengths[i]], single[i][0]) for i in range(batch))
    print(f"viterbi {batch} sentences x <= {length} tokens, {num_tags} tags: batched {batch / batched_s:8.0f} "
          f"sentences/s, one at a time {batch / single_s:8.0f} sentences/s ({single_s / batched_s:.1f}x)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peers", nargs="*", default=[], choices=sorted(PEERS))
    parser.add_argument("--ours", nargs="*", default=[], help="rnnlab model directories")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--throughput", nargs="*", default=[], help="tagger directories to time")
    parser.add_argument("--viterbi", action="store_true", help="time batched against one-at-a-time Viterbi")
    args = parser.parse_args()
    torch.set_num_threads(1)  # the benchmark machine is shared: one thread gives steadier numbers
    if args.viterbi:
        viterbi_speed()
    for path in args.throughput:
        throughput(path, [1, 16, 64, 256])
    rows = {}
    for name in args.peers:
        label, score, seconds = PEERS[name](name)
        rows.setdefault(name, {})["peer"] = f"{label} {100 * score:.2f} (train {seconds:.0f} s)"
        print(f"peer  {name:13s} {label}: {100 * score:.2f}  train {seconds:.1f} s", flush=True)
    for path in args.ours:
        name, metric, score, speed = ours(path, args.batch_size)
        rows.setdefault(name, {})["ours"] = f"rnnlab {metric} {100 * score:.2f} ({speed:.0f} sent/s)"
        print(f"ours  {name:13s} {metric}: {100 * score:.2f}  tagging {speed:.0f} sentences/s", flush=True)
    if not rows:
        return
    print("\n| dataset | peer | rnnlab |\n|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {row.get('peer', '-')} | {row.get('ours', '-')} |")


if __name__ == "__main__":
    main()

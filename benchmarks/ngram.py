"""N-gram benchmark on the Penn Treebank (Mikolov split): rnnlab vs KenLM figures, PyPI kenlm, nltk.lm.

    nice -n 10 python benchmarks/ngram.py                      # orders 3 and 5, nltk on a test subset
    nice -n 10 python benchmarks/ngram.py --orders 5 --nltk-orders

What it measures, in one process on this machine:
- rnnlab interpolated modified Kneser-Ney: build time (counting + estimation, from a list of lines),
  peak memory of the build (tracemalloc over a second, untimed build; numpy arrays included), valid/test
  perplexity, scoring throughput (tokens/s, best of 3, strings in, tokenisation included).
- The reference perplexities the issue's author measured with KenLM 0.3.0 lmplz (default settings),
  with PTB's literal `<unk>` renamed to an ordinary word because lmplz refuses it; we do the same rename.
- PyPI `kenlm` loading our ARPA export: per-sentence log10 agreement and its scoring throughput
  (a Python loop over `Model.score`, the way the module is used from Python).
- `nltk.lm.KneserNeyInterpolated` (same corpus, same order): fit time on the full training set, and
  score on the first `--nltk-tokens` test tokens only (it is too slow for the whole test set); our
  perplexity is reported on that same subset. nltk pads both ends with n-1 symbols; we score its
  words + one `</s>` per sentence, like ours.

Perplexity is over words plus `</s>` (82,430 test tokens).
"""

from __future__ import annotations

import argparse
import math
import time
import tracemalloc
from pathlib import Path
from tempfile import TemporaryDirectory

from rnnlab.lm.ngram import NGramModel

REFERENCE = {3: (157.77, 148.28), 5: (148.01, 141.19)}  # KenLM lmplz: (valid, test) perplexity
RENAMED_UNK = "UNKWORD"


def load_ptb() -> dict[str, list[str]]:
    from rnnlab.data.corpora import load_corpus

    corpus = load_corpus("ptb")
    return {
        split: [
            line.replace("<unk>", RENAMED_UNK) for line in corpus.split(split).split("\n") if line.strip()
        ]
        for split in ("train", "valid", "test")
    }


def best_of(times: int, function):
    best, result = math.inf, None
    for _ in range(times):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def ours(data: dict[str, list[str]], order: int) -> dict:
    start = time.perf_counter()
    model = NGramModel.train(data["train"], order, "mkn")
    build = time.perf_counter() - start
    tracemalloc.start()  # a second build, traced: tracemalloc slows allocation, so it is not timed
    NGramModel.train(data["train"], order, "mkn")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    seconds, (test_logprob, test_count, _) = best_of(3, lambda: model.corpus_logprob(data["test"]))
    valid_logprob, valid_count, _ = model.corpus_logprob(data["valid"])
    return {
        "model": model,
        "build": build,
        "peak_mb": peak / 2**20,
        "tables_mb": model.memory_bytes() / 2**20,
        "valid": math.exp(-valid_logprob / valid_count),
        "test": math.exp(-test_logprob / test_count),
        "tokens": test_count,
        "score_s": seconds,
    }


def with_kenlm(model: NGramModel, test: list[str]) -> dict | None:
    try:
        import kenlm
    except ImportError:
        return None
    with TemporaryDirectory() as directory:
        path = Path(directory) / "model.arpa"
        start = time.perf_counter()
        model.write_arpa(path)
        write = time.perf_counter() - start
        reference = kenlm.Model(str(path))
    seconds, totals = best_of(3, lambda: [reference.score(s, bos=True, eos=True) for s in test])
    ours_scores = model.score(test)
    worst = max(abs(s.total_log10prob - t) for s, t in zip(ours_scores, totals))
    count = sum(len(s.token_logprobs) for s in ours_scores)
    return {"write": write, "score_s": seconds, "worst": worst, "test": 10 ** (-sum(totals) / count)}


def with_nltk(data: dict[str, list[str]], order: int, model: NGramModel, max_tokens: int) -> dict | None:
    try:
        from nltk.lm import KneserNeyInterpolated
        from nltk.lm.preprocessing import padded_everygram_pipeline
    except ImportError:
        return None
    train = [line.split() for line in data["train"]]
    start = time.perf_counter()
    grams, vocab = padded_everygram_pipeline(order, train)
    lm = KneserNeyInterpolated(order)
    lm.fit(grams, vocab)
    fit = time.perf_counter() - start
    subset, count = [], 0
    for line in data["test"]:
        subset.append(line)
        count += len(line.split()) + 1
        if count >= max_tokens:
            break
    start = time.perf_counter()
    total, zero = 0.0, 0
    for line in subset:
        tokens = ["<s>"] * (order - 1) + line.split() + ["</s>"]
        for i in range(order - 1, len(tokens)):
            p = lm.score(tokens[i], tokens[i - order + 1 : i])
            if p > 0:
                total += math.log(p)
            else:
                zero += 1
    seconds = time.perf_counter() - start
    our_logprob, our_count, _ = model.corpus_logprob(subset)
    return {
        "fit": fit,
        "score_s": seconds,
        "tokens": count,
        "ppl": math.exp(-total / (count - zero)) if count > zero else math.inf,
        "zero": zero,
        "ours_ppl": math.exp(-our_logprob / our_count),
        "ours_score_s": best_of(3, lambda: model.corpus_logprob(subset))[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, nargs="+", default=[3, 5])
    parser.add_argument("--nltk-orders", type=int, nargs="*", default=[3], help="orders to run nltk for")
    parser.add_argument("--nltk-tokens", type=int, default=1000, help="test tokens nltk scores")
    args = parser.parse_args()

    data = load_ptb()
    print(
        f"PTB: {len(data['train'])} train / {len(data['valid'])} valid / {len(data['test'])} test sentences"
    )
    rows = []
    for order in args.orders:
        result = ours(data, order)
        model = result["model"]
        valid_ref, test_ref = REFERENCE.get(order, (math.nan, math.nan))
        rows.append(
            f"| rnnlab MKN {order}-gram | {result['valid']:.2f} (lmplz {valid_ref}, "
            f"{100 * (result['valid'] / valid_ref - 1):+.3f}%) | {result['test']:.2f} (lmplz {test_ref}, "
            f"{100 * (result['test'] / test_ref - 1):+.3f}%) | {result['build']:.2f} s build, peak "
            f"{result['peak_mb']:.0f} MiB, tables {result['tables_mb']:.0f} MiB | "
            f"{result['tokens'] / result['score_s']:,.0f} tok/s |"
        )
        print(rows[-1], flush=True)
        kenlm_result = with_kenlm(model, data["test"])
        if kenlm_result:
            ratio = kenlm_result["score_s"] / result["score_s"]
            rows.append(
                f"| PyPI kenlm on our ARPA, {order}-gram | | {kenlm_result['test']:.2f} (max per-sentence "
                f"abs(Δlog10) {kenlm_result['worst']:.1e}) | ARPA written in {kenlm_result['write']:.1f} s | "
                f"{result['tokens'] / kenlm_result['score_s']:,.0f} tok/s (ours/kenlm speed {ratio:.2f}x) |"
            )
            print(rows[-1], flush=True)
        if order in (args.nltk_orders or []):
            nltk_result = with_nltk(data, order, model, args.nltk_tokens)
            if nltk_result:
                n = nltk_result
                rows.append(
                    f"| nltk KneserNeyInterpolated {order}-gram | | first {n['tokens']} test tokens: "
                    f"{n['ppl']:.2f} ({n['zero']} zero-probability tokens left out); rnnlab on the same: "
                    f"{n['ours_ppl']:.2f} | fit {n['fit']:.1f} s (rnnlab build {n['fit'] / result['build']:.0f}x "
                    f"faster) | {n['tokens'] / n['score_s']:,.1f} tok/s "
                    f"(rnnlab {n['score_s'] / n['ours_score_s']:,.0f}x faster) |"
                )
                print(rows[-1], flush=True)
    print("\n| model | valid perplexity | test perplexity | build | scoring |\n|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()

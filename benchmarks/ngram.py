"""N-gram benchmark on the Penn Treebank (Mikolov split): rnnlab vs KenLM figures, PyPI kenlm, nltk.lm.

    nice -n 10 python benchmarks/ngram.py                      # orders 3 and 5, nltk on a test subset
    nice -n 10 python benchmarks/ngram.py --orders 5 --nltk-orders

What it measures, in one process on this machine:
- rnnlab interpolated modified Kneser-Ney: build time (counting + estimation, from a list of lines),
  peak memory of the build (tracemalloc over a second, untimed build; numpy arrays included), valid/test
  perplexity.
- The reference perplexities the issue's author measured with KenLM 0.3.0 lmplz (default settings),
  with PTB's literal `<unk>` renamed to an ordinary word because lmplz refuses it; we do the same rename.
- Scoring speed side by side with PyPI `kenlm` loading our ARPA export (a Python loop over
  `Model.score`, the way the module is used from Python): the whole test set, strings in, tokenisation
  included, best of `--repeats` runs taken in turns (ours, kenlm, ours, ...) so that a busy machine
  slows both alike. Ours two ways: `corpus_logprob` (what `rnnlab eval` runs) and `score` (what
  `rnnlab score` runs: per-sentence results with every token's log-probability). The hash indexes that
  batched scoring probes are built once per model, before the timing (as kenlm builds its tables when
  it loads), and their build time is printed apart.
- Agreement: per-token log10 against kenlm's `full_scores`, per-sentence log10 against `Model.score`,
  and the batched (hashed) log-probabilities against the binary-search path that scores small batches.
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
    index_seconds = model.build_lookup_indexes()  # what the first large batch would do
    test_logprob, test_count, _ = model.corpus_logprob(data["test"])
    valid_logprob, valid_count, _ = model.corpus_logprob(data["valid"])
    return {
        "model": model,
        "build": build,
        "peak_mb": peak / 2**20,
        "tables_mb": model.memory_bytes() / 2**20,
        "valid": math.exp(-valid_logprob / valid_count),
        "test": math.exp(-test_logprob / test_count),
        "tokens": test_count,
        "index_s": index_seconds,
    }


def scoring(model: NGramModel, test: list[str], repeats: int, index_seconds: float) -> dict:
    """Tokens/s of ours (eval and score paths) and of kenlm on the same ARPA, timed in turns, and how far
    apart the log-probabilities are."""
    import numpy as np

    index_mb = model.tables.hash_index_bytes() / 2**20
    runs = {"eval": lambda: model.corpus_logprob(test), "score": lambda: model.score(test)}
    result = {"index_s": index_seconds, "index_mb": index_mb, "tokens": model.corpus_logprob(test)[1]}
    try:
        import kenlm
    except ImportError:
        kenlm = None
    if kenlm is not None:
        with TemporaryDirectory() as directory:
            path = Path(directory) / "model.arpa"
            start = time.perf_counter()
            model.write_arpa(path)
            result["write"] = time.perf_counter() - start
            reference = kenlm.Model(str(path))
        runs["kenlm"] = lambda: [reference.score(s, bos=True, eos=True) for s in test]
        # per token, like `rnnlab score` (which returns every token's log-probability): the words and
        # kenlm's per-token log10 probabilities of each sentence
        runs["kenlm_tokens"] = lambda: [
            (s.split() + ["</s>"], [p for p, _, _ in reference.full_scores(s, bos=True, eos=True)])
            for s in test
        ]
    best = dict.fromkeys(runs, math.inf)
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    result.update({f"{name}_tok_s": result["tokens"] / seconds for name, seconds in best.items()})
    scores = model.score(test)
    ours_tokens = np.concatenate([s.token_logprobs for s in scores])
    _, stream, starts, _ = model.encode_sentences(test, with_tokens=False)
    binary = model.tables.stream_logprobs(stream, starts, lookup="search")  # what small batches use
    hashed = model.tables.stream_logprobs(stream, starts, lookup="hash")
    result["hashed_vs_search"] = float(np.nanmax(np.abs(hashed - binary)))
    if kenlm is not None:
        totals = [reference.score(s, bos=True, eos=True) for s in test]
        result["worst_sentence"] = max(abs(s.total_log10prob - t) for s, t in zip(scores, totals))
        theirs = np.array([p for s in test for p, _, _ in reference.full_scores(s, bos=True, eos=True)])
        result["worst_token"] = float(np.max(np.abs(ours_tokens / math.log(10) - theirs)))
        result["kenlm_test"] = 10 ** (-sum(totals) / result["tokens"])
    return result


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
    parser.add_argument("--repeats", type=int, default=15, help="timed scoring runs of each (best counts)")
    args = parser.parse_args()

    data = load_ptb()
    print(
        f"PTB: {len(data['train'])} train / {len(data['valid'])} valid / {len(data['test'])} test sentences"
    )
    rows, speed_rows = [], []
    for order in args.orders:
        result = ours(data, order)
        model = result["model"]
        valid_ref, test_ref = REFERENCE.get(order, (math.nan, math.nan))
        speed = scoring(model, data["test"], args.repeats, result["index_s"])
        rows.append(
            f"| rnnlab MKN {order}-gram | {result['valid']:.2f} (lmplz {valid_ref}, "
            f"{100 * (result['valid'] / valid_ref - 1):+.3f}%) | {result['test']:.2f} (lmplz {test_ref}, "
            f"{100 * (result['test'] / test_ref - 1):+.3f}%) | {result['build']:.2f} s build, peak "
            f"{result['peak_mb']:.0f} MiB, tables {result['tables_mb']:.0f} MiB | "
            f"{speed['eval_tok_s']:,.0f} tok/s |"
        )
        print(rows[-1], flush=True)
        if "kenlm_tok_s" in speed:
            rows.append(
                f"| PyPI kenlm on our ARPA, {order}-gram | | {speed['kenlm_test']:.2f} (max per-sentence "
                f"abs(Δlog10) {speed['worst_sentence']:.1e}) | ARPA written in {speed['write']:.1f} s | "
                f"{speed['kenlm_tok_s']:,.0f} tok/s |"
            )
            print(rows[-1], flush=True)
        kenlm_speed = speed.get("kenlm_tok_s", math.nan)
        kenlm_tokens = speed.get("kenlm_tokens_tok_s", math.nan)
        speed_rows.append(
            f"| {order}-gram | {speed['eval_tok_s']:,.0f} | {kenlm_speed:,.0f} | "
            f"**{speed['eval_tok_s'] / kenlm_speed:.2f}x** | {speed['score_tok_s']:,.0f} | {kenlm_tokens:,.0f} | "
            f"**{speed['score_tok_s'] / kenlm_tokens:.2f}x** | {speed['index_s']:.2f} s, {speed['index_mb']:.0f} MiB | "
            f"{speed.get('worst_token', math.nan):.1e} | {speed['hashed_vs_search']:.1e} |"
        )
        print(speed_rows[-1], flush=True)
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
    print(
        "\nScoring the PTB test set (82,430 tokens), strings in, best of "
        f"{args.repeats} runs taken in turns. Totals: rnnlab `corpus_logprob` (`rnnlab eval`) vs kenlm "
        "`Model.score` per sentence; per token: rnnlab `score` (`rnnlab score`: every token's log-probability) "
        "vs kenlm `full_scores` per sentence.\n\n| model | rnnlab totals tok/s | kenlm totals tok/s | ratio | "
        "rnnlab per-token tok/s | kenlm per-token tok/s | ratio | hash index build (once) | max abs Δlog10 "
        "per token vs kenlm | max abs Δln hashed vs binary search |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    print("\n".join(speed_rows))


if __name__ == "__main__":
    main()

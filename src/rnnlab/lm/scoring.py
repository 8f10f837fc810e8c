"""Reading sentences to score and printing scores: shared by every language model."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import TextIO

from rnnlab.lm.interface import SentenceScore, corpus_perplexity
from rnnlab.validation import unknown_note


def print_scores(scores: Sequence[SentenceScore], show_tokens: bool = True, out: TextIO = sys.stdout) -> None:
    """One block per sentence: total log-prob (ln and log10), perplexity, optional per-token table."""
    for score in scores:
        print(
            f"{score.text}\n  log-prob {score.total_logprob:.4f} nats "
            f"({score.total_log10prob:.4f} log10)  tokens {len(score.tokens)}  "
            f"perplexity {score.perplexity:.2f}",
            file=out,
        )
        if score.unknown:
            print(f"  {unknown_note(score.unknown)}", file=out)
        if show_tokens:
            for token, logprob in zip(score.tokens, score.token_logprobs):
                print(f"    {token!r:>12}  {logprob:9.4f}  p={math.exp(logprob):.4g}", file=out)
    if len(scores) > 1:
        ranked = sorted(range(len(scores)), key=lambda i: -scores[i].total_logprob)
        print(f"most plausible first: {', '.join(str(i + 1) for i in ranked)}", file=out)
        print(f"corpus perplexity {corpus_perplexity(scores):.2f}", file=out)


def shuffled_copies(sentences: Sequence[str], level: str = "char", seed: int = 0) -> list[tuple[str, str]]:
    """(sentence, a copy with its characters (level "char") or words ("word") shuffled), seeded.

    Sentences with fewer than two distinct units are left out (no copy can differ); every copy differs
    from its sentence.
    """
    import random

    if level not in ("char", "word"):
        raise ValueError(f"expected level 'char' or 'word', got {level!r}")
    rng = random.Random(seed)
    pairs = []
    for sentence in sentences:
        units = list(sentence.strip()) if level == "char" else sentence.split()
        if len(set(units)) < 2:
            continue
        copy = units[:]
        while copy == units:
            rng.shuffle(copy)
        pairs.append((sentence.strip(), ("" if level == "char" else " ").join(copy)))
    return pairs


def shuffled_preference(model, pairs: Sequence[tuple[str, str]], batch: int = 64) -> tuple[float, int]:
    """Fraction of (original, shuffled) pairs where `model` gives the original the higher log-probability
    (a tie counts as a failure), and the number of pairs. Sentences are scored `batch` at a time, in
    order of length, so padding stays small."""
    if not pairs:
        raise ValueError("no sentence pairs to compare")
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]))
    wins = 0
    for start in range(0, len(order), batch):
        chunk = [pairs[i] for i in order[start : start + batch]]
        originals = model.score([a for a, _ in chunk])
        shuffled = model.score([b for _, b in chunk])
        wins += sum(a.total_logprob > b.total_logprob for a, b in zip(originals, shuffled))
    return wins / len(pairs), len(pairs)

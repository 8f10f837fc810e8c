"""Dialogue metrics: distinct-n (Li et al. 2016), recall@k of response ranking, and a TF-IDF ranker.

    distinct(["i am fine", "i am here"], 1)        # 4 distinct unigrams / 6 unigrams = 0.667
    recall_at_k([[-1.0, -3.0], [-2.0, -0.5]], 1)    # candidate 0 is the true one: 0.5
    tfidf_scores(contexts, candidates, documents)   # cosine of TF-IDF vectors (idf from `documents`)

Tokens are lower-cased words and punctuation marks (`tokens`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

__all__ = ["distinct", "recall_at_k", "tfidf_scores", "tokens"]

_TOKEN = re.compile(r"\w+|[^\w\s]")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def distinct(texts: Sequence[str], n: int) -> float:
    """Distinct n-grams over all n-grams of all texts (0.0 when there is none)."""
    grams = [tuple(words[i : i + n]) for words in map(tokens, texts) for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def recall_at_k(scores: Sequence[Sequence[float]], k: int = 1) -> float:
    """Share of rows whose true candidate (index 0) is among the k best scores; ties count against it."""
    hits = 0
    for row in scores:
        better = sum(1 for s in row[1:] if s >= row[0])
        hits += better < k
    return hits / len(scores) if scores else 0.0


def tfidf_scores(contexts: Sequence[str], candidates: Sequence[Sequence[str]], documents: Sequence[str]) -> list[list[float]]:
    """Cosine similarity of each context with each of its candidates, TF-IDF weighted (idf of `documents`:
    log((1 + N) / (1 + df)) + 1, scikit-learn's smooth idf; tf: raw counts)."""
    df = Counter(word for doc in documents for word in set(tokens(doc)))
    n = len(documents)

    def vector(text: str) -> dict[str, float]:
        counts = Counter(tokens(text))
        return {w: c * (math.log((1 + n) / (1 + df.get(w, 0))) + 1) for w, c in counts.items()}

    def cosine(a: dict[str, float], b: dict[str, float]) -> float:
        dot = sum(v * b.get(w, 0.0) for w, v in a.items())
        norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
        return dot / norm if norm else 0.0

    return [[cosine(vector(c), vector(r)) for r in rs] for c, rs in zip(contexts, candidates)]

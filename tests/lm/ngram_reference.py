"""A slow, obvious n-gram model written straight from the textbook definitions, for the tests.

Dicts of tuples, recursion, no numpy: an independent second implementation of every estimator
(including KenLM lmplz's adjusted counts and modified Kneser-Ney discounts) to compare against.
"""

from __future__ import annotations

from collections import Counter, defaultdict

BOS, EOS, UNK = "<s>", "</s>", "<unk>"


class ReferenceModel:
    def __init__(self, sentences, order, method, k=1.0, fallback=None):
        self.order, self.method, self.k = order, method, k
        padded = [[BOS] + s.split() + [EOS] for s in sentences if s.split()]
        self.raw = Counter()
        for sentence in padded:
            for i in range(len(sentence)):
                for m in range(1, order + 1):
                    if i + m <= len(sentence):
                        self.raw[tuple(sentence[i : i + m])] += 1
        del self.raw[(BOS,)]
        self.vocab = sorted({w for s in padded for w in s} - {BOS} | {UNK})
        left = defaultdict(set)
        for gram in self.raw:
            if len(gram) > 1:
                left[gram[1:]].add(gram[0])
        self.adjusted = {}
        for gram, count in self.raw.items():
            top = len(gram) == order or gram[0] == BOS
            self.adjusted[gram] = count if top else len(left[gram])
        self.counts = self.adjusted if method in ("kn", "mkn") else self.raw
        self.discounts = {}
        if method in ("kn", "mkn"):
            for m in range(1, order + 1):
                n = Counter(c for g, c in self.counts.items() if len(g) == m)
                y = n[1] / (n[1] + 2 * n[2]) if n[1] else None
                if method == "kn":
                    d = fallback[0] if y is None else y
                    self.discounts[m] = [0.0, d, d, d]
                else:
                    try:
                        if y is None:
                            raise ZeroDivisionError
                        d = [j - (j + 1) * y * n[j + 1] / n[j] for j in (1, 2, 3)]
                        if not all(0 <= d[j - 1] <= j for j in (1, 2, 3)):
                            raise ZeroDivisionError  # out of range: lmplz refuses these too
                        self.discounts[m] = [0.0] + d
                    except ZeroDivisionError:
                        self.discounts[m] = [0.0] + list(fallback)
        self.totals = Counter()
        self.types = Counter()
        self.by_count = defaultdict(Counter)
        for gram, count in self.counts.items():
            self.totals[gram[:-1]] += count
            self.types[gram[:-1]] += count > 0
            self.by_count[gram[:-1]][min(count, 3)] += 1

    def prob(self, word: str, history: tuple) -> float:
        """P(word | history) with history the last order-1 tokens (from <s>)."""
        history = tuple(history[max(0, len(history) - (self.order - 1)) :]) if self.order > 1 else ()
        if word not in self.vocab:
            word = UNK
        return self._prob(word, history)

    def _prob(self, word, history):
        size = len(self.vocab)
        total = self.totals[history]
        if history and total == 0:
            return self._prob(word, history[1:])
        lower = (1.0 / size) if not history else self._prob(word, history[1:])
        count = self.counts.get(history + (word,), 0)
        if self.method == "mle":
            return count / total
        if self.method == "addk":
            return (count + self.k) / (total + self.k * size)
        if self.method == "wb":
            types = self.types[history]
            return (count + types * lower) / (total + types)
        d = self.discounts[len(history) + 1]
        gamma = sum(d[j] * self.by_count[history][j] for j in (1, 2, 3)) / total
        return (count - d[min(count, 3)]) / total + gamma * lower

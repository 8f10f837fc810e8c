"""IBM Models 1 and 2: word translation probabilities t(f | e) (and alignment probabilities a(i | j, l, m))
learned by EM from sentence pairs alone (Brown et al. 1993; Koehn, *Statistical Machine Translation*, ch. 4).

The channel of the noisy-channel translator ê = argmax_e p(f | e) p(e). A target sentence e = e_1 .. e_l
(with e_0 = NULL, which "generates" source words that translate nothing) generates the source sentence
f = f_1 .. f_m word by word; each f_j picks one target position i (its alignment) and is translated from e_i:

    Model 1:  p(f | e) = ∏_j  1/(l+1) Σ_{i=0..l} t(f_j | e_i)
    Model 2:  p(f | e) = ∏_j  Σ_{i=0..l} a(i | j, l, m) t(f_j | e_i)

EM. E-step: the posterior of each alignment link, δ(i, j) = a(i|j,l,m) t(f_j|e_i) / Σ_i' a(i'|j,l,m) t(f_j|e_i');
M-step: t(f | e) = Σ δ over links of f to e / Σ δ over links from e, and a(i | j, l, m) likewise per (j, l, m).
Model 2 starts from Model 1's t (its likelihood is convex in t; Model 2's is not).

Implementation: every link (pair k, source position j, target position i) of the corpus is one entry of flat
arrays, so an EM iteration is a few `np.bincount` calls over them, with no Python loop over words. t is stored
only for the (f, e) pairs that co-occur in some sentence pair (all others are 0 after the first M-step), as
sorted int64 keys f * |E| + e with their probabilities; lookups are binary searches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

NULL = "<null>"
#: alignment tables a(i | j, l, m) are kept for sentences up to this many words a side (longer: uniform)
MAX_ALIGNED_LENGTH = 100


@dataclass
class WordVocab:
    """Word <-> id. Target vocabularies have NULL at id 0."""

    words: list[str]

    def __post_init__(self) -> None:
        self.index = {word: i for i, word in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def ids(self, words: Sequence[str]) -> np.ndarray:
        """Ids of `words`; -1 for a word the vocabulary lacks."""
        return np.array([self.index.get(word, -1) for word in words], dtype=np.int64)


def build_vocab(sentences: Sequence[Sequence[str]], null: bool) -> WordVocab:
    """Every word of the sentences, most frequent first (ties: alphabetical); NULL first when asked."""
    counts: dict[str, int] = {}
    for sentence in sentences:
        for word in sentence:
            counts[word] = counts.get(word, 0) + 1
    words = sorted(counts, key=lambda w: (-counts[w], w))
    return WordVocab(([NULL] if null else []) + [w for w in words if w != NULL])


@dataclass
class Links:
    """All alignment links of a corpus as flat arrays (one entry per (pair k, source j, target i))."""

    f: np.ndarray  # source word id of the link
    e: np.ndarray  # target word id (0 = NULL)
    i: np.ndarray  # target position, 0 = NULL
    j: np.ndarray  # source position, 1-based
    l: np.ndarray  # target length (without NULL)  # noqa: E741
    m: np.ndarray  # source length
    group: np.ndarray  # index of the (k, j) the link belongs to: the E-step normalises within it
    num_groups: int


def corpus_links(sources: Sequence[np.ndarray], targets: Sequence[np.ndarray]) -> Links:
    """Links of every pair: source ids (m,), target ids (l,) without NULL (NULL, id 0, is added here)."""
    parts: dict[str, list[np.ndarray]] = {name: [] for name in ("f", "e", "i", "j", "l", "m", "group")}
    group = 0
    for f, e in zip(sources, targets):
        m, l = len(f), len(e)  # noqa: E741
        e_null = np.concatenate([[0], e])
        parts["f"].append(np.repeat(f, l + 1))
        parts["e"].append(np.tile(e_null, m))
        parts["i"].append(np.tile(np.arange(l + 1), m))
        parts["j"].append(np.repeat(np.arange(1, m + 1), l + 1))
        parts["l"].append(np.full(m * (l + 1), l))
        parts["m"].append(np.full(m * (l + 1), m))
        parts["group"].append(np.repeat(np.arange(group, group + m), l + 1))
        group += m
    arrays = {name: np.concatenate(values).astype(np.int64) if values else np.zeros(0, np.int64)
              for name, values in parts.items()}  # fmt: skip
    return Links(**arrays, num_groups=group)


def alignment_keys(i, j, l, m) -> np.ndarray:  # noqa: E741
    """One int64 key per (i, j, l, m) (all < MAX_ALIGNED_LENGTH + 1)."""
    size = MAX_ALIGNED_LENGTH + 1
    return ((np.asarray(i) * size + np.asarray(j)) * size + np.asarray(l)) * size + np.asarray(m)


@dataclass
class IBMModel:
    """t(f | e) and, for Model 2, a(i | j, l, m): sorted keys and their probabilities."""

    source: WordVocab  # f
    target: WordVocab  # e, NULL at 0
    t_keys: np.ndarray  # int64 f * |E| + e, sorted
    t_values: np.ndarray  # float64
    a_keys: np.ndarray | None = None  # int64 alignment_keys(i, j, l, m), sorted (Model 2)
    a_values: np.ndarray | None = None

    @property
    def model(self) -> int:
        return 1 if self.a_keys is None else 2

    def t(self, f: np.ndarray, e: np.ndarray) -> np.ndarray:
        """t(f | e) for arrays of ids (broadcast); 0 for pairs never seen together or ids < 0."""
        f, e = np.broadcast_arrays(np.asarray(f, np.int64), np.asarray(e, np.int64))
        keys = f * len(self.target) + e
        return _lookup(self.t_keys, self.t_values, keys, valid=(f >= 0) & (e >= 0))

    def a(self, i, j, l, m) -> np.ndarray:  # noqa: E741
        """a(i | j, l, m) (Model 2; uniform 1 / (l + 1) for Model 1 and for lengths without a table)."""
        i, j, l, m = np.broadcast_arrays(*(np.asarray(x, np.int64) for x in (i, j, l, m)))  # noqa: E741
        uniform = 1.0 / (l + 1)
        if self.a_keys is None:
            return uniform.astype(np.float64)
        fits = (l <= MAX_ALIGNED_LENGTH) & (m <= MAX_ALIGNED_LENGTH)
        found = _lookup(self.a_keys, self.a_values, alignment_keys(i, j, l, m) * fits, valid=fits, missing=-1.0)
        return np.where(found >= 0, found, uniform)

    def log_likelihood(self, f: np.ndarray, e: np.ndarray, floor: float = 1e-12) -> float:
        """log p(f | e) of one pair (natural log): source ids (m,), target ids (l,) without NULL."""
        m, l = len(f), len(e)  # noqa: E741
        e_null = np.concatenate([[0], np.asarray(e, np.int64)])
        i, j = np.meshgrid(np.arange(l + 1), np.arange(1, m + 1))  # (m, l+1)
        probs = self.t(np.asarray(f)[:, None], e_null[None, :]) * self.a(i, j, l, m)
        return float(np.log(np.maximum(probs.sum(axis=1), floor)).sum())

    def viterbi_alignment(self, f: np.ndarray, e: np.ndarray) -> list[int]:
        """For each source word, the target position (0 = NULL) of its most probable link."""
        m, l = len(f), len(e)  # noqa: E741
        e_null = np.concatenate([[0], np.asarray(e, np.int64)])
        i, j = np.meshgrid(np.arange(l + 1), np.arange(1, m + 1))
        probs = self.t(np.asarray(f)[:, None], e_null[None, :]) * self.a(i, j, l, m)
        return probs.argmax(axis=1).tolist()


def _lookup(keys: np.ndarray, values: np.ndarray, queries: np.ndarray, valid: np.ndarray,
            missing: float = 0.0) -> np.ndarray:  # fmt: skip
    """values[keys == query] for each query (`missing` where absent or not valid)."""
    if len(keys) == 0:
        return np.full(queries.shape, missing)
    at = np.clip(np.searchsorted(keys, queries), 0, len(keys) - 1)
    hit = (keys[at] == queries) & valid
    return np.where(hit, values[at], missing)


@dataclass
class EMReport:
    """Per iteration: which model, and the corpus log-likelihood Σ log p(f | e) before that iteration's M-step."""

    model: list[int]
    log_likelihood: list[float]


def train_ibm(
    sources: Sequence[Sequence[str]],
    targets: Sequence[Sequence[str]],
    model1_iterations: int = 5,
    model2_iterations: int = 5,
) -> tuple[IBMModel, EMReport]:
    """EM for t(f | e) (Model 1), then t and a(i | j, l, m) (Model 2) when `model2_iterations` > 0.

    `sources` and `targets` are tokenised sentence pairs; pairs longer than MAX_ALIGNED_LENGTH words on a
    side are left out of training (as GIZA++ does with its length limit).
    """
    if len(sources) != len(targets):
        raise ValueError(f"expected as many source as target sentences, got {len(sources)} and {len(targets)}")
    kept = [(f, e) for f, e in zip(sources, targets)
            if 0 < len(f) <= MAX_ALIGNED_LENGTH and 0 < len(e) <= MAX_ALIGNED_LENGTH]  # fmt: skip
    source_vocab = build_vocab([f for f, _ in kept], null=False)
    target_vocab = build_vocab([e for _, e in kept], null=True)
    links = corpus_links([source_vocab.ids(f) for f, _ in kept], [target_vocab.ids(e) for _, e in kept])
    E = len(target_vocab)

    keys = links.f * E + links.e
    t_keys, t_of_link = np.unique(keys, return_inverse=True)
    e_of_t = t_keys % E
    t = np.full(len(t_keys), 1.0 / max(len(source_vocab), 1))  # uniform start
    a_keys = a_of_link = a = condition_of_a = None
    report = EMReport([], [])

    def step(model: int) -> None:
        nonlocal t, a
        link_prob = t[t_of_link] * (a[a_of_link] if model == 2 else 1.0 / (links.l + 1))
        totals = np.bincount(links.group, link_prob, minlength=links.num_groups)  # p(f_j | e) per (k, j)
        report.model.append(model)
        report.log_likelihood.append(float(np.log(totals).sum()))
        posterior = link_prob / totals[links.group]
        counts = np.bincount(t_of_link, posterior, minlength=len(t_keys))
        t = counts / np.bincount(e_of_t, counts, minlength=E)[e_of_t]
        if model == 2:
            a_counts = np.bincount(a_of_link, posterior, minlength=len(a_keys))
            a = a_counts / np.bincount(condition_of_a, a_counts)[condition_of_a]

    for _ in range(model1_iterations):
        step(1)
    if model2_iterations > 0:
        a_keys, a_of_link = np.unique(alignment_keys(links.i, links.j, links.l, links.m), return_inverse=True)
        size = MAX_ALIGNED_LENGTH + 1
        condition_of_a = np.unique(a_keys % size**3, return_inverse=True)[1]  # the (j, l, m) of each a
        a = 1.0 / (a_keys // size % size + 1)  # uniform 1 / (l + 1): Model 1's
        for _ in range(model2_iterations):
            step(2)
    return IBMModel(source_vocab, target_vocab, t_keys, t, a_keys, a), report

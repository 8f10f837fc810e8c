"""Estimators: from counts to the stored probabilities and backoffs of an n-gram model.

Every estimator here has the interpolated form, order by order:

    P(w | h) = alpha(h w) + gamma(h) * P_lower(w | h[1:])        for a context h seen in training
    P(w | h) = P_lower(w | h[1:])                                 for an unseen context

with P_lower of the empty context the uniform distribution over the V predictable tokens (everything but
`<s>`, `<unk>` included), as KenLM's lmplz does. The estimators differ in alpha and gamma:

- `mle`: alpha = c(hw) / c(h), gamma = 0 (no smoothing: unseen words get probability 0).
- `addk`: (c(hw) + k) / (c(h) + kV) = alpha + gamma / V: the lower order is *uniform*, not P_lower.
- `wb` (Witten-Bell): alpha = c(hw) / (c(h) + T(h)), gamma = T(h) / (c(h) + T(h)), T = distinct words after h.
- `kn` (interpolated Kneser-Ney): adjusted counts a (continuation counts below the highest order), one
  discount D = n1 / (n1 + 2 n2) per order: alpha = (a - D) / sum a, gamma = D * N1+(h.) / sum a.
- `mkn` (interpolated modified Kneser-Ney, Chen & Goodman eq. 26, KenLM lmplz): three discounts
  D1, D2, D3+ per order from the count-of-counts n1..n4 of adjusted counts,
  D_j = j - (j + 1) Y n_{j+1} / n_j with Y = n1 / (n1 + 2 n2).

Pruning (KenLM's --prune): n-grams of order m >= 2 seen at most `prune[m-1]` times are dropped after
estimation and their alpha mass moves to gamma of their context, so every distribution still sums to 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rnnlab.errors import ConfigError, DataError
from rnnlab.lm.ngram_counts import NGramCounts
from rnnlab.lm.ngram_index import NGramTables
from rnnlab.lm.ngram_tokens import BOS_ID

METHODS = ("mle", "addk", "wb", "kn", "mkn")
METHOD_NAMES = {
    "mle": "maximum likelihood",
    "addk": "add-k (Lidstone; Laplace for k=1)",
    "wb": "interpolated Witten-Bell",
    "kn": "interpolated Kneser-Ney",
    "mkn": "interpolated modified Kneser-Ney",
}
FALLBACK = {"kn": (0.75,), "mkn": (0.5, 1.0, 1.5)}  # mkn: the values of lmplz --discount_fallback


class DiscountError(DataError):
    """Kneser-Ney discounts cannot be estimated from this corpus's count-of-counts."""


@dataclass
class SmoothingConfig:
    """How to turn counts into probabilities.

    method: one of METHODS; k: add-k's constant; prune: count threshold per order (order 1 must be 0;
    non-decreasing; the last value repeats); discount_fallback: discounts to use when they cannot be
    estimated (None: raise DiscountError).
    """

    method: str = "mkn"
    k: float = 1.0
    prune: Sequence[int] = field(default_factory=tuple)
    discount_fallback: Sequence[float] | None = None

    def validate(self, order: int) -> list[int]:
        """Check the settings; return the prune threshold of every order (length `order`)."""
        if self.method not in METHODS:
            raise ConfigError(f"unknown smoothing {self.method!r}; expected one of {', '.join(METHODS)}")
        if self.method == "addk" and not self.k > 0:
            raise ConfigError(f"add-k needs k > 0, got {self.k}")
        thresholds = [int(t) for t in self.prune] or [0]
        if any(t < 0 for t in thresholds):
            raise ConfigError(f"prune thresholds must be >= 0, got {thresholds}")
        if thresholds[0] != 0:
            raise ConfigError(
                f"unigrams cannot be pruned: the first prune threshold must be 0, got {thresholds}"
            )
        if any(b < a for a, b in zip(thresholds, thresholds[1:])):
            raise ConfigError(f"prune thresholds must be non-decreasing by order, got {thresholds}")
        if len(thresholds) > order:
            raise ConfigError(f"{len(thresholds)} prune thresholds given for an order-{order} model")
        if self.discount_fallback is not None and self.method in FALLBACK:
            expected = len(FALLBACK[self.method])
            if len(self.discount_fallback) != expected:
                raise ConfigError(
                    f"{self.method} discount fallback needs {expected} value(s), got {list(self.discount_fallback)}"
                )
            check_discounts(self.method, self.discount_fallback)
        return thresholds + [thresholds[-1]] * (order - len(thresholds))


# ---------------------------------------------------------------------------------------------------
# Discounts


def check_discounts(method: str, discounts: Sequence[float]) -> None:
    """Refuse fallback discounts that would make probabilities negative or non-finite (ConfigError).

    Discount D_j is subtracted from counts of j (D3+ from counts >= 3; kn's one D from every count >= 1),
    so it must lie in [0, j]: above, an n-gram seen j times gets a negative share (D3+ = 5 once saved a
    model of NaN log-probabilities); below 0, its context's backoff weight is negative.
    """
    names = ["D"] if method == "kn" else ["D1", "D2", "D3+"]
    for j, (name, value) in enumerate(zip(names, discounts), start=1):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise ConfigError(f"discount {name} = {value!r} is not a finite number")
        if value < 0:
            raise ConfigError(f"discount {name} = {value:g} is negative; backoff weights would be negative")
        if value > j:
            seen = f"{j} time{'s' * (j > 1)}" + (" or more" if name == "D3+" else "")
            raise ConfigError(f"discount {name} = {value:g} is larger than {j} (an n-gram seen {seen}); "
                              "probabilities would be negative")  # fmt: skip


def count_of_counts(adjusted: np.ndarray) -> list[int]:
    """[n1, n2, n3, n4]: how many n-grams have adjusted count 1, 2, 3, 4."""
    return [int(v) for v in np.bincount(np.minimum(adjusted, 5), minlength=6)[1:5]]


def estimate_discounts(
    method: str, m: int, n: list[int], fallback: Sequence[float] | None
) -> tuple[list[float], bool]:
    """Discounts [D1, D2, D3+] of order m (kn: the same D three times) and whether the fallback was used."""
    name = METHOD_NAMES[method]
    fallback_text = (
        f"pass discount_fallback (CLI: --discount-fallback) to use {list(FALLBACK[method])}"
        + (" as KenLM's lmplz --discount_fallback does" if method == "mkn" else "")
        + ", use a lower --order, or --smoothing wb"
    )
    try:
        if method == "kn":
            if n[0] == 0:
                raise DiscountError(f"no {m}-gram has adjusted count 1")
            d = n[0] / (n[0] + 2 * n[1])
            return [d, d, d], False
        for j in range(3):
            if n[j] == 0:
                raise DiscountError(f"no {m}-gram has adjusted count {j + 1}")
        y = n[0] / (n[0] + 2 * n[1])
        discounts = [(j + 1) - (j + 2) * y * n[j + 1] / n[j] for j in range(3)]
        for j, d in enumerate(discounts):
            if not 0 <= d <= j + 1:
                raise DiscountError(f"the {m}-gram discount for count {j + 1} is out of range: {d:.4f}")
        return discounts, False
    except DiscountError as error:
        if fallback is None:
            raise DiscountError(
                f"cannot estimate {name} discounts for {m}-grams: {error} (count-of-counts n1..n4 = {n}); "
                f"the corpus is too small or artificial. {fallback_text}"
            ) from None
        values = list(fallback) * (3 if method == "kn" else 1)
        return [float(v) for v in values], True


# ---------------------------------------------------------------------------------------------------
# Building the tables


@dataclass
class BuildReport:
    """What the estimator did: discounts per order, fallbacks, n-grams kept after pruning."""

    discounts: list[list[float]] = field(default_factory=list)
    fallback_orders: list[int] = field(default_factory=list)
    count_of_counts: list[list[int]] = field(default_factory=list)
    pruned: list[int] = field(default_factory=list)


def _safe_log(values: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(values)


def build_tables(counts: NGramCounts, config: SmoothingConfig) -> tuple[NGramTables, BuildReport]:
    """Estimate, prune and store an order-N model from `counts`.

    Consumes `counts`: each order's arrays are released once its trie level is built (peak memory).
    """
    order = counts.order
    thresholds = config.validate(order)
    vocab_size = len(counts.vocab)
    predictable = counts.vocab.predictable_size
    method = config.method
    use_adjusted = method in ("kn", "mkn")
    report = BuildReport()

    # 1. The unpruned trie: sort every order by key = row(prefix) * V + last word.
    keys = [np.arange(vocab_size, dtype=np.int64)]
    context_of = [np.zeros(vocab_size, dtype=np.int64)]  # row of the context, per n-gram (order 1: root)
    lower_of = [None]  # row of the suffix h[1:] w at the order below
    raw = [counts.orders[0].raw]
    adjusted = [counts.orders[0].adjusted]
    position_of = np.arange(vocab_size)  # OrderCounts row -> trie row, of the order below
    tables_so_far = NGramTables(vocab_size, predictable, keys, [], [])
    for m in range(2, order + 1):
        level = counts.orders[m - 1]
        prefix_rows = tables_so_far.lookup(level.grams[:, :-1])[-1]
        gram_keys = prefix_rows * vocab_size + level.grams[:, -1]
        permutation = np.argsort(gram_keys)
        keys.append(gram_keys[permutation])
        context_of.append(prefix_rows[permutation])
        lower_of.append(position_of[level.suffix[permutation]])
        raw.append(level.raw[permutation])
        adjusted.append(level.adjusted[permutation] if use_adjusted else None)
        position_of = np.empty_like(permutation)
        position_of[permutation] = np.arange(len(permutation))
        counts.orders[m - 1] = None  # release the suffix-ordered copy
        del level, prefix_rows, gram_keys, permutation
    del position_of

    # 2. alpha per n-gram; gamma and "seen" per context row of the order below (order 1: one root).
    alphas, gammas, seens = [], [], []
    for m in range(1, order + 1):
        count = (adjusted if use_adjusted else raw)[m - 1].astype(np.float64)
        n_contexts = 1 if m == 1 else len(keys[m - 2])
        if m == 1:
            count = count.copy()
            count[BOS_ID] = 0.0  # <s> is never predicted
        alpha, gamma, seen = _estimate_order(
            method, m, count, context_of[m - 1], n_contexts, predictable, config, report
        )
        alphas.append(alpha)
        gammas.append(gamma)
        seens.append(seen)

    # 3. Pruning: drop rare n-grams of order >= 2 and give their mass to their context's gamma.
    #    Thresholds are non-decreasing and a longer n-gram is never more frequent than its prefix or
    #    suffix, so whatever is kept still has its prefix and suffix.
    kept = [np.ones(vocab_size, dtype=bool)]
    for m in range(2, order + 1):
        dropped = raw[m - 1] <= thresholds[m - 1]
        report.pruned.append(int(dropped.sum()))
        gammas[m - 1] = gammas[m - 1] + np.bincount(
            context_of[m - 1][dropped], weights=alphas[m - 1][dropped], minlength=len(gammas[m - 1])
        )
        kept.append(~dropped)
    new_row = [np.where(k, np.cumsum(k) - 1, -1) for k in kept]  # old row -> row after pruning
    for m in range(2, order + 1):
        k = kept[m - 1]
        context_of[m - 1] = new_row[m - 2][context_of[m - 1][k]]
        lower_of[m - 1] = new_row[m - 2][lower_of[m - 1][k]]
        keys[m - 1] = context_of[m - 1] * vocab_size + keys[m - 1][k] % vocab_size
        alphas[m - 1], raw[m - 1] = alphas[m - 1][k], raw[m - 1][k]
        if m < order:  # gamma of the n-grams of order m as contexts
            gammas[m], seens[m] = gammas[m][k], seens[m][k]

    # 4. Full probabilities, bottom-up; backoffs = ln gamma of the contexts.
    uniform = method == "addk"
    probs = [alphas[0] + gammas[0][0] / predictable]
    probs[0][BOS_ID] = 0.0
    for m in range(2, order + 1):
        weight = gammas[m - 1][context_of[m - 1]]
        lower = 1.0 / predictable if uniform else probs[m - 2][lower_of[m - 1]]
        probs.append(alphas[m - 1] + weight * lower)
    logprob = [_safe_log(p) for p in probs]
    backoff = [
        np.where(seens[m], _safe_log(np.where(seens[m], gammas[m], 1.0)), 0.0) for m in range(1, order)
    ]
    tables = NGramTables(
        vocab_size,
        predictable,
        keys,
        logprob,
        backoff,
        uniform_backoff=uniform,
        is_context=[seens[m] for m in range(1, order)] if uniform else None,
        root_backoff=float(_safe_log(np.array(gammas[0][0]))),
    )
    return tables, report


def _estimate_order(
    method: str,
    m: int,
    count: np.ndarray,
    context: np.ndarray,
    n_contexts: int,
    predictable: int,
    config: SmoothingConfig,
    report: BuildReport,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """alpha (per n-gram), gamma and seen (per context row) of one order. count: (K,) float64."""
    total = np.bincount(context, weights=count, minlength=n_contexts)
    seen = total > 0
    safe_total = np.where(seen, total, 1.0)
    if method == "mle":
        return count / safe_total[context], np.where(seen, 0.0, 1.0), seen
    if method == "addk":
        denominator = total + config.k * predictable
        return count / denominator[context], config.k * predictable / denominator, seen | (m == 1)
    if method == "wb":
        types = np.bincount(context, weights=(count > 0).astype(np.float64), minlength=n_contexts)
        denominator = np.where(seen, total + types, 1.0)
        return count / denominator[context], np.where(seen, types / denominator, 1.0), seen
    # kn / mkn on adjusted counts
    observed = count[count > 0].astype(np.int64)
    n = count_of_counts(observed)
    discounts, fell_back = estimate_discounts(method, m, n, config.discount_fallback)
    report.discounts.append(discounts)
    report.count_of_counts.append(n)
    if fell_back:
        report.fallback_orders.append(m)
    table = np.array([0.0] + discounts)
    discount = table[np.minimum(count, 3).astype(np.int64)]
    alpha = (count - discount) / safe_total[context]
    mass = np.bincount(context, weights=discount, minlength=n_contexts)
    return alpha, np.where(seen, mass / safe_total, 1.0), seen

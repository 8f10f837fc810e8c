"""The noisy-channel decoder: ê = argmax_e  λ_lm log p(e) + λ_tm log p(f | e) + λ_wp |e|, by beam search.

p(e) is an n-gram language model of the target side (`rnnlab.lm.ngram`), p(f | e) an IBM model
(`rnnlab.smt.ibm`). The search builds e left to right, one word per step, the way the language model reads:

- **Candidates.** Each source word proposes the K target words e with the highest t(f | e) p(e) (Bayes'
  rule with a unigram p(e): which English words explain this German word), and the most frequent target
  words are always available (articles, prepositions: the words IBM models align to NULL). A source word the
  model never saw is passed through unchanged, as its own candidate, and counted.
- **Partial scores.** Model 1's channel needs no alignment decisions: with S_j = Σ_{i<=k} t(f_j | e_i) the
  running sum over the words chosen so far (NULL included), log p(f | e_1..e_k) = Σ_j log S_j - m log(k+1).
  A step adds one column t(f_· | e) to S for every candidate at once (numpy), so the score of every
  expansion of a hypothesis is a vector operation. A complete translation explains every source word, so a
  partial one is not charged the full price for the words it has not explained *yet*: each S_j is floored
  at its NULL term plus `future` times the best any candidate offers for f_j (an estimate of the future
  cost, as phrase-based decoders use). Without it (future = 0) the search covers the source words that NULL
  explains worst first, whatever the order the language model wants ("is good a house" for "ein haus ist
  gut"); with future = 1 the channel is flat until the end and only the language model steers.
- **Finishing.** A hypothesis ends by emitting `</s>` (its language-model probability included). With
  Model 2 the finished hypotheses are rescored with a(i | j, l, m), which needs the final length l.
- Each candidate word may be used as many times as source words propose it (frequent words: a third of the
  source length, at least once), which stops "the the the" loops the channel alone would not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from rnnlab.lm.ngram import NGramModel
from rnnlab.lm.ngram_tokens import EOS_ID, UNK_ID
from rnnlab.smt.ibm import IBMModel

FLOOR = 1e-12  # probabilities are floored here before a log


@dataclass
class DecoderSettings:
    beam_size: int = 10
    candidates: int = 8  # target words proposed per source word
    frequent: int = 30  # most frequent target words always proposed
    lm_weight: float = 1.0
    tm_weight: float = 1.0
    word_penalty: float = 0.0  # added per target word (> 0 favours longer output)
    future: float = 0.5  # future-cost estimate: unexplained f_j counts as explained this well (0..1 of its best)
    max_len_ratio: float = 1.5  # at most ratio * source words + 3 target words


@dataclass
class Hypothesis:
    words: list[str]  # target words so far
    lm_ids: list[int]  # language-model context (starts with <s>)
    coverage: np.ndarray  # (m,) S_j = Σ_i t(f_j | e_i), NULL included
    columns: list[np.ndarray]  # (m,) t(f_· | e_i) of each chosen word (for Model 2's rescoring)
    lm_logprob: float
    used: dict[int, int] = field(default_factory=dict)  # candidate index -> times used
    score: float = 0.0
    channel: float = 0.0


@dataclass
class Candidates:
    """The words a sentence may be translated into: their text, LM id, channel column and use limit."""

    words: list[str]
    lm_ids: np.ndarray  # (K,)
    columns: np.ndarray  # (m, K): t(f_j | e_k)
    limits: np.ndarray  # (K,)
    null_column: np.ndarray  # (m,): t(f_j | NULL)
    best: np.ndarray  # (m,): the largest t(f_j | e) any candidate offers
    unknown: list[str]  # source words the channel never saw (passed through)


class NoisyChannelDecoder:
    def __init__(self, channel: IBMModel, lm: NGramModel, proposals: np.ndarray, frequent: np.ndarray,
                 settings: DecoderSettings | None = None):  # fmt: skip
        """`proposals` (|F|, K0): target ids each source word proposes, best first (-1: none);
        `frequent`: target ids always proposed, most frequent first."""
        self.channel, self.lm, self.proposals, self.frequent = channel, lm, proposals, frequent
        self.settings = settings or DecoderSettings()

    # --------------------------------------------------------------------------------- candidates
    def candidates(self, source_words: list[str]) -> Candidates:
        s = self.settings
        f_ids = self.channel.source.ids(source_words)
        m = len(f_ids)
        counts: dict[int, int] = {}
        for f in f_ids[f_ids >= 0]:
            for e in self.proposals[f, : s.candidates]:
                if e > 0:
                    counts[int(e)] = counts.get(int(e), 0) + 1
        for e in self.frequent[: s.frequent]:
            counts[int(e)] = max(counts.get(int(e), 0), max(1, math.ceil(m / 3)))
        target_ids = np.array(sorted(counts), dtype=np.int64)
        words = [self.channel.target.words[e] for e in target_ids]
        columns = self.channel.t(f_ids[:, None], target_ids[None, :]) if len(target_ids) else np.zeros((m, 0))
        limits = [counts[int(e)] for e in target_ids]
        unknown = [word for word, f in zip(source_words, f_ids) if f < 0]
        copies = [j for j, f in enumerate(f_ids) if f < 0]
        if copies:  # a word never seen is its own translation: t(f_j | copy of f_j) = 1
            copy_columns = np.zeros((m, len(copies)))
            copy_columns[copies, range(len(copies))] = 1.0
            columns = np.concatenate([columns, copy_columns], axis=1)
            words += [source_words[j] for j in copies]
            limits += [1] * len(copies)
        lm_index = self.lm.vocab.index
        lm_ids = np.array([lm_index.get(word, UNK_ID) for word in words], dtype=np.int64)
        null_column = self.channel.t(f_ids, np.zeros_like(f_ids))
        best = columns.max(axis=1) if columns.shape[1] else np.zeros(m)
        return Candidates(words, lm_ids, columns, np.array(limits), null_column, best, unknown)

    # ------------------------------------------------------------------------------------- search
    def channel_score(self, candidates: Candidates, hypothesis: Hypothesis) -> float:
        """log p(f | e) of a finished hypothesis (Model 2: with a(i | j, l, m); Model 1: its running sums)."""
        m, length = len(candidates.null_column), len(hypothesis.words)
        if self.channel.model == 1:
            return float(np.log(np.maximum(hypothesis.coverage, FLOOR)).sum() - m * math.log(length + 1))
        table = np.stack([candidates.null_column, *hypothesis.columns], axis=1)  # (m, l + 1)
        i, j = np.meshgrid(np.arange(length + 1), np.arange(1, m + 1))
        return float(np.log(np.maximum((table * self.channel.a(i, j, length, m)).sum(axis=1), FLOOR)).sum())

    def decode(self, source_words: list[str], n_best: int = 1, beam_size: int | None = None) -> tuple[list[Hypothesis], list[str]]:
        """The n best finished hypotheses (best first) and the source words passed through unseen."""
        s = self.settings
        beam_size = beam_size or s.beam_size
        cands = self.candidates(source_words)
        m = len(source_words)
        max_len = int(s.max_len_ratio * m) + 3
        beam = [Hypothesis([], [1], cands.null_column.copy(), [], 0.0)]  # lm_ids [1]: <s>
        floor = cands.null_column + s.future * cands.best
        finished: list[Hypothesis] = []
        for length in range(max_len + 1):
            scores, lm_totals = [], []
            for hyp in beam:
                logprobs = np.log(np.maximum(self.lm.tables.distribution(hyp.lm_ids), FLOOR))
                if length > 0:  # finish here: </s>
                    done = Hypothesis(hyp.words, hyp.lm_ids, hyp.coverage, hyp.columns,
                                      hyp.lm_logprob + float(logprobs[EOS_ID]))  # fmt: skip
                    done.channel = self.channel_score(cands, done)
                    done.score = s.lm_weight * done.lm_logprob + s.tm_weight * done.channel + s.word_penalty * length
                    finished.append(done)
                lm = hyp.lm_logprob + logprobs[cands.lm_ids]  # (K,)
                coverage = hyp.coverage[:, None] + cands.columns  # (m, K)
                estimate = np.maximum(coverage, floor[:, None])  # not yet explained: its future estimate
                tm = np.log(np.maximum(estimate, FLOOR)).sum(axis=0) - m * math.log(length + 2)
                score = s.lm_weight * lm + s.tm_weight * tm + s.word_penalty * (length + 1)
                for k, times in hyp.used.items():  # used up
                    if times >= cands.limits[k]:
                        score[k] = -np.inf
                scores.append(score)
                lm_totals.append(lm)
            if length == max_len or not len(cands.words):
                break
            flat = np.concatenate(scores)
            width = len(cands.words)
            keep = [at for at in np.argsort(-flat, kind="stable")[:beam_size] if np.isfinite(flat[at])]
            beam = [self._extend(beam[at // width], at % width, cands, float(lm_totals[at // width][at % width]))
                    for at in keep]  # fmt: skip
            if not beam:
                break
        finished.sort(key=lambda h: -h.score)
        return finished[:n_best], cands.unknown

    @staticmethod
    def _extend(hyp: Hypothesis, k: int, cands: Candidates, lm_logprob: float) -> Hypothesis:
        """`hyp` followed by candidate k, whose language-model log-probability brings the total to `lm_logprob`."""
        return Hypothesis(
            words=[*hyp.words, cands.words[k]],
            lm_ids=[*hyp.lm_ids, int(cands.lm_ids[k])],
            coverage=hyp.coverage + cands.columns[:, k],
            columns=[*hyp.columns, cands.columns[:, k]],
            lm_logprob=lm_logprob,
            used={**hyp.used, k: hyp.used.get(k, 0) + 1},
        )


def proposal_table(channel: IBMModel, target_counts: np.ndarray, k: int) -> np.ndarray:
    """(|F|, k) target ids, per source word the k with the highest t(f | e) p(e), best first; -1 pads.

    `target_counts` (|E|,) are the target words' corpus counts (p(e) ∝ count); NULL (id 0) is never proposed.
    """
    E = len(channel.target)
    f, e = channel.t_keys // E, channel.t_keys % E
    prior = np.log(np.maximum(target_counts / max(target_counts.sum(), 1), FLOOR))
    score = np.log(np.maximum(channel.t_values, FLOOR)) + prior[e]
    score[e == 0] = -np.inf
    order = np.lexsort((-score, f))  # by source word, then best first
    f_sorted, e_sorted = f[order], e[order]
    first = np.searchsorted(f_sorted, f_sorted)  # where each source word's run starts
    rank = np.arange(len(order)) - first
    table = np.full((len(channel.source), k), -1, dtype=np.int64)
    keep = (rank < k) & np.isfinite(score[order])
    table[f_sorted[keep], rank[keep]] = e_sorted[keep]
    return table

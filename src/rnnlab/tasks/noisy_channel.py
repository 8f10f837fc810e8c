"""Noisy-channel reranking of a translation n-best list (the statistical-MT slide's ê = argmax p(f|e) p(e)).

Each hypothesis e of source f gets

    score(e) = log p_fwd(e | f) + λ_lm · log p_lm(e) + λ_rev · log p_rev(f | e) + λ_len · |e|

where p_fwd is the translation model that produced the n-best list, p_lm any target-side language model
following `rnnlab.lm.interface.LanguageModel` (n-gram or neural), p_rev an optional reverse translation model
(target → source, scored by forced decoding), and |e| the hypothesis length in target subwords (a word
bonus that offsets the models' preference for short outputs). The λ are tuned on the dev set by grid
search for corpus BLEU.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from rnnlab.lm.interface import LanguageModel

__all__ = ["NoisyChannelWeights", "NoisyChannelReranker", "load_language_model_dir"]

LM_GRID = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
REVERSE_GRID = (0.0, 0.1, 0.25, 0.5, 1.0)
LENGTH_GRID = (0.0, 0.25, 0.5, 1.0)


@dataclass(frozen=True)
class NoisyChannelWeights:
    lm: float = 0.0
    reverse: float = 0.0
    length: float = 0.0


def load_language_model_dir(path: str | Path) -> LanguageModel:
    """Any model directory whose task scores sentences (n-gram or neural LM)."""
    from rnnlab.tasks.registry import open_model

    return open_model(path, "score")


class NoisyChannelReranker:
    """Rerank n-best lists (lists of `rnnlab.tasks.translator.Translation`) with an LM and a reverse model."""

    def __init__(self, lm: LanguageModel | None, reverse=None, weights: NoisyChannelWeights | None = None):
        self.lm, self.reverse = lm, reverse
        self.weights = weights or NoisyChannelWeights(lm=0.3 if lm else 0.0, reverse=0.5 if reverse else 0.0)

    def features(self, sources: Sequence[str], nbest: Sequence[Sequence]) -> list[list[tuple[float, float, float, float]]]:
        """(forward log-prob, LM log-prob, reverse log-prob, length) of every hypothesis."""
        flat = [(i, hyp) for i, hyps in enumerate(nbest) for hyp in hyps]
        texts = [hyp.text for _, hyp in flat]
        lm_scores = [0.0] * len(flat)
        if self.lm is not None:
            non_empty = [k for k, text in enumerate(texts) if text.strip()]
            scored = self.lm.score([texts[k] for k in non_empty]) if non_empty else []
            lm_scores = [-100.0] * len(flat)  # an empty hypothesis is a very unlikely sentence
            for k, score in zip(non_empty, scored):
                lm_scores[k] = score.total_logprob
        rev_scores = [0.0] * len(flat)
        if self.reverse is not None:
            # p(f | e): the reverse model reads the hypothesis as its source and is forced to emit f.
            rev_in = [text if text.strip() else "." for text in texts]
            rev_scores = self.reverse.score_pairs(rev_in, [sources[i] for i, _ in flat])
        out: list[list[tuple[float, float, float, float]]] = [[] for _ in nbest]
        for k, (i, hyp) in enumerate(flat):
            out[i].append((hyp.log_prob, lm_scores[k], rev_scores[k], float(len(hyp.ids))))
        return out

    @staticmethod
    def _combine(feature: tuple[float, float, float, float], w: NoisyChannelWeights) -> float:
        fwd, lm, rev, length = feature
        return fwd + w.lm * lm + w.reverse * rev + w.length * length

    def order(self, nbest, feats, weights: NoisyChannelWeights):
        """n-best lists reordered by the weighted sum of their precomputed `features` (a grid search scores
        them once and reorders per setting)."""
        result = []
        for hyps, fs in zip(nbest, feats):
            scored = [(self._combine(f, weights), h) for f, h in zip(fs, hyps)]
            scored.sort(key=lambda x: x[0], reverse=True)
            result.append([replace(h, score=s) for s, h in scored])
        return result

    def rerank(self, sources: Sequence[str], nbest: Sequence[Sequence], weights: NoisyChannelWeights | None = None):
        """n-best lists reordered by the combined score (each hypothesis' `score` replaced by it)."""
        return self.order(nbest, self.features(sources, nbest), weights or self.weights)

    def tune(self, sources: Sequence[str], references: Sequence[str], nbest: Sequence[Sequence],
             target_language: str = "en") -> tuple[NoisyChannelWeights, float]:  # fmt: skip
        """Grid search of the weights for dev-set corpus BLEU; sets and returns the best (ties: first)."""
        from rnnlab.text_metrics import corpus_scores

        feats = self.features(sources, nbest)
        lm_grid = LM_GRID if self.lm is not None else (0.0,)
        rev_grid = REVERSE_GRID if self.reverse is not None else (0.0,)
        best: tuple[float, NoisyChannelWeights] | None = None
        for lm_w, rev_w, len_w in itertools.product(lm_grid, rev_grid, LENGTH_GRID):
            weights = NoisyChannelWeights(lm_w, rev_w, len_w)
            top = [hyps[0].text for hyps in self.order(nbest, feats, weights)]
            bleu = corpus_scores(top, references, target_language)["bleu"]
            if best is None or bleu > best[0] + 1e-9:
                best = (bleu, weights)
        assert best is not None
        self.weights = best[1]
        return best[1], best[0]


def build_reranker(lm_path: str | None, reverse_path: str | None, lm_weight: float, reverse_weight: float,
                   length_weight: float) -> NoisyChannelReranker | None:
    """A noisy-channel reranker from a target-side LM and/or a reverse model directory; None if neither.

    The models are loaded once per pair of paths (`load_reranker_models`): the interactive prompt and a
    server build a reranker for every request."""
    if not (lm_path or reverse_path):
        return None
    lm, reverse = load_reranker_models(lm_path, reverse_path)
    weights = NoisyChannelWeights(lm=lm_weight if lm else 0.0, reverse=reverse_weight if reverse else 0.0,
                                  length=length_weight)  # fmt: skip
    return NoisyChannelReranker(lm, reverse, weights)


@functools.lru_cache(maxsize=4)
def load_reranker_models(lm_path: str | None, reverse_path: str | None) -> tuple[LanguageModel | None, object]:
    """(language model, reverse Translator) of these model directories, each None when not given; cached, so
    a model directory changed on disk after the first call is not reread (`load_reranker_models.cache_clear()`)."""
    from rnnlab.tasks.translator import load_translator

    lm = load_language_model_dir(lm_path) if lm_path else None
    reverse = load_translator(reverse_path) if reverse_path else None
    return lm, reverse

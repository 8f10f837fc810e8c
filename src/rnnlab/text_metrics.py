"""Corpus scores of generated text against references, with sacrebleu: BLEU and chrF with their signatures.

Shared by every task that writes sentences (translation, and next captioning and dialogue), so that their
numbers are computed, and reported, the same way:

    scores = corpus_scores(hypotheses, references)             # one reference per sentence
    print(f"BLEU = {scores['bleu']:.2f} ({scores['bleu_signature']})")

`target_language="zh"` selects sacrebleu's Chinese tokenizer; every other language uses 13a.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["corpus_scores"]


def corpus_scores(hypotheses: Sequence[str], references: Sequence[str], target_language: str = "en") -> dict[str, Any]:
    """sacrebleu corpus BLEU and chrF (one reference per sentence) and their signatures."""
    import sacrebleu

    tokenize = "zh" if target_language == "zh" else "13a"
    bleu = sacrebleu.BLEU(tokenize=tokenize)
    chrf = sacrebleu.CHRF()
    bleu_score = bleu.corpus_score(list(hypotheses), [list(references)])
    chrf_score = chrf.corpus_score(list(hypotheses), [list(references)])
    return {
        "bleu": bleu_score.score,
        "chrf": chrf_score.score,
        "bleu_signature": str(bleu.get_signature()),
        "chrf_signature": str(chrf.get_signature()),
        "bleu_text": str(bleu_score),
    }

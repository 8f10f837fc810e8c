"""The `classify` verb of every text-classification task: the most probable label (and the top k) per text.

    rnnlab classify runs/classifier-en-sentiment "a gripping , beautifully shot film" --top-k 2
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from rnnlab.labelling.classifier import Classifier
from rnnlab.verbs import Verb

__all__ = ["CLASSIFY", "ClassifyOptions", "format_classified", "run_classify"]


@dataclass
class ClassifyOptions:
    top_k: int | None = field(default=None, metadata={"help": "show the k most probable labels"})


def run_classify(classifier: Classifier, texts: list[str], options: ClassifyOptions) -> Iterator[dict]:
    """Per text: the most probable label and the probabilities of the top-k labels (the best one only by default)."""
    for text, probs in zip(texts, classifier.probabilities(texts)):
        ranked = sorted(probs.items(), key=lambda item: -item[1])
        yield {"text": text, "label": ranked[0][0], "probabilities": dict(ranked[: options.top_k or 1])}


def format_classified(result: dict, options: ClassifyOptions) -> str:
    labels = "  ".join(f"{label} {p:.3f}" for label, p in result["probabilities"].items())
    return f"{labels}\t{result['text']}"


CLASSIFY = Verb(name="classify", help="label sentences with a trained classifier", options=ClassifyOptions,
                run=run_classify, what="sentences", format=format_classified)

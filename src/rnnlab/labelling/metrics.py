"""Metrics for taggers and classifiers: accuracy, confusion matrices (counts, text, PNG artifact), entity P/R/F1.

Entity (chunk) extraction follows conlleval / seqeval's default mode: a chunk starts at B-X or S-X, or
at an I-X/E-X whose type differs from the previous tag's, and it ends before anything that cannot
continue it. An entity counts as correct only when both its span and its type match exactly.
`tests/tasks/test_labelling_metrics.py` checks entities and per-type / micro scores against seqeval on
every BIO/BIOES sequence up to length 5, malformed ones included. A bare prefix (`B`, `I`, `B-`) is a
chunk of the unnamed type "_", as in seqeval and conlleval. Tags that are neither `O`, `P-TYPE` nor a
bare B/I/E/S prefix (e.g. a POS tag `NN`) count as `O`; seqeval warns on them and reads their first
letter as the prefix.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from rnnlab.verbs import Artifact

__all__ = ["CONFUSION_PNG", "PRF", "accuracy", "confusion", "confusion_artifact", "entities", "entity_scores",
           "format_confusion", "plot_confusion"]

CONFUSION_PNG = "confusion.png"


def _split(tag: str) -> tuple[str, str]:
    """(prefix, type): "B-PER" -> ("B", "PER"); a bare "B" or "B-" -> ("B", "_"); "O" or "NN" -> ("O", "")."""
    if tag in ("B", "I", "E", "S"):
        return tag, "_"
    if tag == "O" or len(tag) < 2 or tag[1] != "-":
        return "O", ""
    return tag[0], tag[2:] or "_"


def _ends(prev_prefix: str, prefix: str, prev_type: str, kind: str) -> bool:
    if prev_prefix in ("E", "S"):
        return True
    if prev_prefix in ("B", "I") and prefix in ("B", "S", "O"):
        return True
    return prev_prefix != "O" and prev_type != kind


def _starts(prev_prefix: str, prefix: str, prev_type: str, kind: str) -> bool:
    if prefix in ("B", "S"):
        return True
    if prefix in ("I", "E") and prev_prefix in ("E", "S", "O"):
        return True
    return prefix != "O" and prev_type != kind


def entities(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """Chunks as (type, start, end_inclusive) from BIO / BIOES / IOB1 tags."""
    chunks = []
    prev_prefix, prev_type, begin = "O", "", -1
    for i, tag in enumerate([*tags, "O"]):
        prefix, kind = _split(tag)
        if begin >= 0 and _ends(prev_prefix, prefix, prev_type, kind):
            chunks.append((prev_type, begin, i - 1))
            begin = -1
        if _starts(prev_prefix, prefix, prev_type, kind):
            begin = i
        prev_prefix, prev_type = prefix, kind
    return chunks


@dataclass
class PRF:
    precision: float
    recall: float
    f1: float
    support: int  # gold entities


def _prf(correct: int, predicted: int, gold: int) -> PRF:
    precision = correct / predicted if predicted else 0.0
    recall = correct / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PRF(precision, recall, f1, gold)


def entity_scores(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict[str, PRF]:
    """Per-type and "micro" entity-level precision / recall / F1 over sentences."""
    correct, n_pred, n_gold = Counter(), Counter(), Counter()
    for gold_tags, pred_tags in zip(gold, predicted, strict=True):
        gold_set = set(entities(gold_tags))
        pred_set = set(entities(pred_tags))
        for kind, *_ in gold_set:
            n_gold[kind] += 1
        for chunk in pred_set:
            n_pred[chunk[0]] += 1
            if chunk in gold_set:
                correct[chunk[0]] += 1
    scores = {kind: _prf(correct[kind], n_pred[kind], n_gold[kind]) for kind in sorted(n_gold | n_pred)}
    scores["micro"] = _prf(sum(correct.values()), sum(n_pred.values()), sum(n_gold.values()))
    return scores


def accuracy(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> float:
    """Token accuracy over all tokens of all sentences."""
    right = total = 0
    for gold_tags, pred_tags in zip(gold, predicted, strict=True):
        right += sum(g == p for g, p in zip(gold_tags, pred_tags, strict=True))
        total += len(gold_tags)
    return right / total if total else 0.0


def confusion(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> list[list[int]]:
    """counts[i][j] = how often gold label i was predicted as label j (flat label sequences)."""
    index = {label: i for i, label in enumerate(labels)}
    counts = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, predicted, strict=True):
        counts[index[g]][index[p]] += 1
    return counts


def format_confusion(counts: list[list[int]], labels: Sequence[str], top: int = 15) -> str:
    """The `top` most frequent gold labels as a text table (rows gold, columns predicted)."""
    order = sorted(range(len(labels)), key=lambda i: -sum(counts[i]))[:top]
    width = max(6, *(len(labels[i]) for i in order)) + 1
    lines = ["gold\\pred".ljust(width) + "".join(labels[j].rjust(width) for j in order)]
    for i in order:
        lines.append(labels[i].ljust(width) + "".join(str(counts[i][j]).rjust(width) for j in order))
    return "\n".join(lines)


def plot_confusion(counts: list[list[int]], labels: Sequence[str], path, top: int = 30) -> None:
    """Row-normalised confusion matrix of the `top` most frequent gold labels as a PNG (a path or a file)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    order = sorted(range(len(labels)), key=lambda i: -sum(counts[i]))[:top]
    matrix = np.array([[counts[i][j] for j in order] for i in order], dtype=float)
    matrix = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    size = max(4.0, 0.35 * len(order) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
    names = [labels[i] for i in order]
    ax.set_xticks(range(len(order)), names, rotation=90, fontsize=8)
    ax.set_yticks(range(len(order)), names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title("confusion (row-normalised)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def confusion_artifact(counts: list[list[int]], labels: Sequence[str]) -> Artifact:
    """The row-normalised confusion plot as a PNG artifact, rendered in memory: evaluating writes no file
    (`rnnlab eval --out DIR` writes it, a server returns it)."""
    import io

    import matplotlib

    buffer = io.BytesIO()
    with matplotlib.rc_context({"savefig.format": "png"}):  # a file object has no suffix to go by
        plot_confusion(counts, labels, buffer)
    return Artifact(media_type="image/png", data=buffer.getvalue(), name=CONFUSION_PNG)

"""The `cloze` verb: rank fillers for the blank of each sentence, by the two-sided and the forward-only head.

    rnnlab cloze runs/cloze-ptb/best "I am ___ very hungry, I could eat half a pig."
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from rnnlab.labelling.cloze import BLANK, ClozeModel
from rnnlab.verbs import Verb

__all__ = ["CLOZE", "ClozeOptions", "format_cloze", "run_cloze"]


@dataclass
class ClozeOptions:
    top_k: int = field(default=10, metadata={"help": "how many fillers to rank"})
    blank: str = field(default=BLANK, metadata={"help": "the blank marker"})


def run_cloze(model: ClozeModel, sentences: list[str], options: ClozeOptions) -> Iterator[dict]:
    """Per sentence with one blank: the top-k fillers by the bidirectional head and by the forward one."""
    for sentence in sentences:
        both, forward = model.fill(sentence, options.top_k, options.blank)
        yield {"sentence": sentence, "bidirectional": [[w, p] for w, p in both], "forward": [[w, p] for w, p in forward]}


def format_cloze(result: dict, options: ClozeOptions) -> str:
    both, forward = result["bidirectional"], result["forward"]
    width = max([len(w) for w, _ in both + forward] + [8])
    lines = [f"{'bidirectional':>{width + 8}s}   | {'forward only':>{width + 8}s}"]
    lines += [f"{w1:>{width}s} {p1:7.4f}   | {w2:>{width}s} {p2:7.4f}" for (w1, p1), (w2, p2) in zip(both, forward)]
    return "\n".join(lines)


CLOZE = Verb(name="cloze", help="rank fillers for the ___ in a sentence", options=ClozeOptions, run=run_cloze,
             what="sentences", format=format_cloze,
             description='Rank fillers for the blank of each sentence, e.g. "I am ___ hungry ."')

"""The embedded Tang corpus (src/rnnlab/resources/tang/tang.txt.gz): regular-form Tang poems.

One poem per line, `title::author::body`, simplified script; see resources/tang/ATTRIBUTION.md for the
source (npm chinese-poetry@2.0.1, MIT) and the filter. Built by scripts/build_tang_corpus.py.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from rnnlab.data.splits import split_of

RESOURCE = ("tang", "tang.txt.gz")
SEPARATOR = "::"


@dataclass(frozen=True)
class Poem:
    title: str
    author: str
    body: str  # e.g. 白日依山尽，黄河入海流。欲穷千里目，更上一层楼。


@lru_cache(maxsize=1)
def load_poems() -> tuple[Poem, ...]:
    """All embedded poems in source order."""
    resource = files("rnnlab").joinpath("resources", *RESOURCE)
    text = gzip.decompress(resource.read_bytes()).decode("utf-8")
    poems = []
    for line in text.splitlines():
        title, author, body = line.split(SEPARATOR)
        poems.append(Poem(title, author, body))
    return tuple(poems)


def tang_splits() -> dict[str, str]:
    """{"train", "valid", "test"} -> poem bodies, one per line (90/5/5 by the hash of the body)."""
    bodies: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
    for poem in load_poems():
        bodies[split_of(poem.body)].append(poem.body)
    return {split: "".join(body + "\n" for body in items) for split, items in bodies.items()}

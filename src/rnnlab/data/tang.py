"""The embedded Tang corpus (src/rnnlab/resources/tang/tang.txt.gz): regular-form Tang poems.

One poem per line, `title::author::body`, simplified script; see resources/tang/ATTRIBUTION.md for the
source (npm chinese-poetry@2.0.1, MIT) and the filter. Built by scripts/build_tang_corpus.py.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from rnnlab.data.registry import DatasetEntry, Source, register_dataset
from rnnlab.data.splits import split_of

if TYPE_CHECKING:
    from rnnlab.data.corpora import Corpus

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


def load_tang(entry: DatasetEntry, directory: Path | None = None) -> Corpus:
    """The registry loader of `tang`: the embedded poems as a Corpus."""
    from rnnlab.data.corpora import Corpus

    return Corpus(entry.name, **tang_splits(), level=entry.level or "char", description=entry.description)


register_dataset(
    DatasetEntry(
        name="tang",
        kind="text",
        description="6,082 regular-form Tang poems (五言/七言 绝句/律诗), simplified script, one poem per line",
        source=Source(
            "npm",
            "chinese-poetry",
            "2.0.1",
            "25b549e46919c3a0569db6b68ddc96956b04a484ea4518ad2bbd4f137e307e86",
            member="dist/quantangshi/poet.tang.*.json, filtered by scripts/build_tang_corpus.py",
            note="embedded",
        ),
        licence="MIT (chinese-poetry); the poems are public domain",
        attribution="src/rnnlab/resources/tang/ATTRIBUTION.md",
        load=load_tang,
        level="char",
        unit="characters",
        sizes={"train": 247_291, "valid": 12_917, "test": 13_602},
    )
)

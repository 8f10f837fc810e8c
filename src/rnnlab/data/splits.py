"""Deterministic train/valid/test splits (90/5/5 by default), the same on every machine and run.

- `split_of(text)`: an item's split from the sha256 of its text (poems, song entries, source files).
- `split_by_share(items)`: whole documents (plays), in sha256 order, until valid and test each hold 5%.
- `split_by_blocks(text)`: blocks of consecutive lines of one text (user files).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from rnnlab.errors import DataError

CYCLE = 20  # blocks per cycle in split_by_blocks: 18 train, 1 valid, 1 test (90/5/5)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def split_of(text: str, valid_percent: int = 5, test_percent: int = 5) -> str:
    """The split ("train", "valid" or "test") of an item, from the sha256 of its text: stable across
    runs and machines, and independent of which other items exist."""
    bucket = int(_sha(text)[:8], 16) % 100
    if bucket < 100 - valid_percent - test_percent:
        return "train"
    return "valid" if bucket < 100 - test_percent else "test"


def split_items(
    items: Sequence[str], key: Sequence[str] | None = None, separator: str = "\n"
) -> dict[str, str]:
    """Items (each ending without `separator`) grouped by `split_of(key)` and joined, order kept."""
    parts: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
    for item, name in zip(items, key if key is not None else items):
        parts[split_of(name)].append(item)
    return {split: "".join(item + separator for item in chunk) for split, chunk in parts.items()}


def split_by_share(documents: dict[str, str], share: float = 0.05) -> dict[str, list[str]]:
    """Names of whole documents per split: in sha256-of-name order, valid takes documents until it
    holds `share` of all characters, then test does the same, the rest is train (sorted by name)."""
    total = sum(len(text) for text in documents.values())
    order = sorted(documents, key=_sha)
    splits: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
    for split in ("valid", "test"):
        while order and sum(len(documents[n]) for n in splits[split]) < share * total:
            splits[split].append(order.pop(0))
    splits["train"] = sorted(order)
    return splits


def split_by_blocks(text: str) -> dict[str, str]:
    """Split lines 90/5/5 into train/valid/test, deterministically.

    Lines are grouped in blocks of consecutive lines (about 1/400 of the text each, at most 50 lines) so
    each split samples the whole text while neighbouring lines mostly stay together; block i goes to
    valid when i % 20 == 18, test when i % 20 == 19, else train. Texts under 20 lines give their last
    two lines to valid and test. Needs at least 3 non-empty lines.
    """
    lines = text.splitlines(keepends=True)
    if sum(1 for line in lines if line.strip()) < 3:
        raise DataError("expected at least 3 non-empty lines to split into train/valid/test")
    if len(lines) < CYCLE:
        return {"train": "".join(lines[:-2]), "valid": lines[-2], "test": lines[-1]}
    block = max(1, min(50, len(lines) // (CYCLE * CYCLE)))
    parts: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
    for start in range(0, len(lines), block):
        position = (start // block) % CYCLE
        split = "valid" if position == CYCLE - 2 else "test" if position == CYCLE - 1 else "train"
        parts[split].extend(lines[start : start + block])
    return {split: "".join(chunk) for split, chunk in parts.items()}

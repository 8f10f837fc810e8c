"""A corpus as a stream of lines: a UTF-8 text file read lazily, or a split of a built-in text dataset.

    source, level = resolve_corpus("ptb")          # or a path: "data/news.txt" (level None)
    for line in source(): ...                      # each call streams the lines again

What the n-gram models count and evaluate (`rnnlab.tasks.ngram`): one sentence per line, read without
holding a large file in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from rnnlab.errors import DataError

__all__ = ["read_lines", "resolve_corpus"]


def read_lines(path: str | Path) -> Iterator[str]:
    """Lines of a UTF-8 text file, streamed; a decoding error names the file and line."""
    path = Path(path)
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise DataError(f"{path}:{number}: not valid UTF-8 ({error.reason})") from None


def resolve_corpus(name: str, split: str = "train") -> tuple[Callable[[], Iterable[str]], str | None]:
    """A callable streaming the lines of `name` (a text file or a built-in dataset split), and the
    dataset's token level hint (None for a file)."""
    if Path(name).is_file():
        return (lambda: read_lines(name)), None
    from rnnlab.data import corpora

    if corpora.is_builtin(name):
        corpus = corpora.load_corpus(name)
        text = corpus.split(split)
        return (lambda: text.split("\n")), corpus.level
    if Path(name).exists():
        raise DataError(f"{name}: expected a text file (one sentence per line), found a directory")
    known = ", ".join(entry.name for entry in corpora.list_datasets())
    raise DataError(f"{name}: no such file, and not a built-in dataset ({known})")

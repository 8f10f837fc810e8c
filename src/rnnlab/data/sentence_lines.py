"""Sentences as token lists, one per line of a corpus: what the bidirectional cloze model trains on.

    splits = corpus_sentence_splits("ptb", lowercase=True, max_length=60, max_train=None, max_valid=1000)
    lines = read_sentence_file("held-out.txt", lowercase=True, max_length=60)
"""

from __future__ import annotations

from rnnlab.errors import DataError

__all__ = ["corpus_lines", "corpus_sentence_splits", "read_sentence_file"]


def corpus_lines(text: str, lowercase: bool, max_length: int, limit: int | None) -> list[list[str]]:
    """Whitespace tokens of each non-empty line, cut to `max_length`; at most `limit` lines spread evenly."""
    lines = []
    for line in text.splitlines():
        tokens = (line.lower() if lowercase else line).split()
        if tokens:
            lines.append(tokens[:max_length])
    if limit and limit < len(lines):
        lines = [lines[i * len(lines) // limit] for i in range(limit)]
    return lines


def corpus_sentence_splits(corpus: str, lowercase: bool, max_length: int, max_train: int | None,
                           max_valid: int | None) -> dict[str, list[list[str]]]:  # fmt: skip
    """train / valid / test sentences of a built-in corpus or a text file / directory / glob
    (`rnnlab.data.corpora.load_corpus`); valid and test are capped at `max_valid` lines."""
    from rnnlab.data.corpora import load_corpus

    text = load_corpus(corpus, level="word")
    splits = {
        "train": corpus_lines(text.train, lowercase, max_length, max_train),
        "valid": corpus_lines(text.valid, lowercase, max_length, max_valid),
        "test": corpus_lines(text.test, lowercase, max_length, max_valid),
    }
    if not splits["train"] or not splits["valid"]:
        raise DataError(f"{corpus}: expected non-empty train and valid text")
    return splits


def read_sentence_file(path: str, lowercase: bool, max_length: int) -> list[list[str]]:
    """The sentences of a UTF-8 text file (one per line); DataError when it has none."""
    from rnnlab.data.tagged import read_lines

    lines = corpus_lines("\n".join(read_lines(path)), lowercase, max_length, None)
    if not lines:
        raise DataError(f"{path}: no sentences found")
    return lines

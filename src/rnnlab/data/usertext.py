"""User text corpora: a file, a directory or a glob of UTF-8 text files.

- A directory holding `train.txt` and `valid.txt` (or `dev.txt`), optionally `test.txt`: splits as given.
- Otherwise every matching file (a directory means all files under it, recursively, hidden ones skipped),
  in sorted order, concatenated and split deterministically 90/5/5 by blocks of lines (`splits.split_by_blocks`).

Every error names the file and, for text problems, the line: invalid UTF-8, binary files (a NUL byte),
empty corpora.
"""

from __future__ import annotations

import glob
from pathlib import Path

from rnnlab.data.splits import split_by_blocks
from rnnlab.errors import DataError

SPLIT_NAMES = {"train": ("train.txt",), "valid": ("valid.txt", "dev.txt"), "test": ("test.txt",)}


def read_text_file(path: Path) -> str:
    """The text of `path`, checked: UTF-8 (a leading BOM is dropped) and not binary."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: expected a text file, got a directory") from None
    if b"\0" in data:
        line = data[: data.index(b"\0")].count(b"\n") + 1
        raise DataError(f"{path}:{line}: expected a UTF-8 text file, got binary data (a NUL byte)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DataError(
            f"{path}:{line}: expected UTF-8 text, got byte 0x{data[error.start]:02x} ({error.reason}); "
            "convert the file, e.g. `iconv -f GBK -t UTF-8`"
        ) from None
    return text.removeprefix("\ufeff").replace("\r\n", "\n")


def resolve_paths(spec: str | Path) -> list[Path]:
    """The files a path, directory or glob names, sorted; DataError if there are none."""
    path = Path(spec)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        if not files:
            raise DataError(f"{path}: expected text files in this directory, found none")
        return files
    if glob.has_magic(str(spec)):
        files = sorted(Path(p) for p in glob.glob(str(spec), recursive=True) if Path(p).is_file())
        if not files:
            raise DataError(f"{spec}: expected the pattern to match text files, it matched none")
        return files
    raise DataError(
        f"{spec}: expected a built-in dataset name, a text file, a directory or a glob; found none of these"
    )


def _join(texts: list[str]) -> str:
    # Files are joined with a newline between them so no line runs into the next file's first line.
    return "".join(text if text.endswith("\n") or not text else text + "\n" for text in texts)


def load_user_splits(spec: str | Path) -> tuple[dict[str, str], str]:
    """({"train", "valid", "test"} -> text, a one-line description) for the user corpus `spec`."""
    path = Path(spec)
    if path.is_dir():
        given = {
            split: next((path / n for n in names if (path / n).is_file()), None)
            for split, names in SPLIT_NAMES.items()
        }
        if given["train"] is not None and given["valid"] is None:
            raise DataError(f"{path}: found train.txt, expected valid.txt (or dev.txt) next to it")
        if given["train"] is not None and given["valid"] is not None:
            splits = {split: read_text_file(p) if p is not None else "" for split, p in given.items()}
            for split in ("train", "valid"):
                if not splits[split].strip():
                    raise DataError(f"{given[split]}: expected text for the {split} split, the file is empty")
            return (
                splits,
                f"user text from {path} (splits as given: {', '.join(p.name for p in given.values() if p)})",
            )
    files = resolve_paths(spec)
    texts = [read_text_file(p) for p in files]
    text = _join(texts)
    if not text.strip():
        raise DataError(f"{spec}: expected text, the corpus is empty ({len(files)} file(s))")
    try:
        splits = split_by_blocks(text)
    except DataError as error:
        raise DataError(f"{spec}: {error}") from None
    return splits, f"user text from {spec} ({len(files)} file(s), split 90/5/5 by line blocks)"

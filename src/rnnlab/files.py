"""Small file helpers shared by datasets and checkpoints."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_of(path: str | Path) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks (datasets and checkpoints can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_bytes_atomically(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` through a temporary file in the same directory and a rename: a reader (or a
    crash, or a full disk) sees the old file or the new one, never half of one."""
    import os
    import tempfile

    target = Path(path)
    handle, temporary = tempfile.mkstemp(dir=target.parent if str(target.parent) else ".", prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # what open() would give, not mkstemp's private 0600
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def write_text_atomically(path: str | Path, text: str) -> Path:
    """`write_bytes_atomically` for UTF-8 text."""
    return write_bytes_atomically(path, text.encode("utf-8"))


def read_input_lines(path: str | Path, what: str = "inputs", keep_empty: bool = False) -> list[str]:
    """The non-empty lines of a UTF-8 file ('-': stdin); errors name the file and line. `keep_empty` keeps
    blank lines too (line N of the output answers line N of the input, so a blank one is the caller's to
    refuse); a file with no text at all is an error either way."""
    import sys

    from rnnlab.errors import DataError

    if str(path) == "-":
        lines = [line.rstrip("\n") for line in sys.stdin]
    else:
        source = Path(path)
        if not source.is_file():
            raise DataError(f"{path}: no such file")
        lines = []
        with source.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    lines.append(raw.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r\n"))
                except UnicodeDecodeError as error:
                    raise DataError(f"{path}:{number}: not valid UTF-8 text ({error.reason})") from None
    kept = [line for line in lines if line.strip()]
    if not kept:
        raise DataError(f"{path}: no {what} (the file is empty)")
    return lines if keep_empty else kept

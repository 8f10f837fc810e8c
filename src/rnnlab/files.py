"""Small file helpers shared by datasets, checkpoints and every command that writes a file.

Every file a command writes for the user goes through `atomic_output` (or `write_bytes_atomically` /
`write_text_atomically`): a temporary file next to the target, fsynced, then renamed over it. Artifacts go
through `write_new_file`, which never replaces an existing file. Where a path may be written at all is
`rnnlab.paths.guard_output_file`'s question.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def sha256_of(path: str | Path) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks (datasets and checkpoints can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _file_mode() -> int:
    """The mode open() gives a new file under the process umask (mkstemp's is a private 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_output(path: str | Path, mode: str = "w", *, replace: bool = True) -> Iterator[IO]:
    """Open a temporary file next to `path` for writing ("w": UTF-8 text, "wb": bytes); when the block ends
    without an exception it is fsynced and renamed to `path`, on any exception it is removed. A reader (or a
    crash, or a full disk) sees the old file or the whole new one, never half of one. Missing parent
    directories are created.

    replace=False never replaces a file at `path`: FileExistsError instead (a hard link, which fails if the
    name is taken, so a file created meanwhile is not lost either).

        with atomic_output("model.arpa") as out:
            for line in lines:
                out.write(line)
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_output: mode must be 'w' or 'wb', got {mode!r}")
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)  # as `rnnlab.paths.check_writable` allowed
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, mode, encoding=None if "b" in mode else "utf-8") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, _file_mode())
        if replace:
            os.replace(temporary, target)
        else:
            _rename_without_replacing(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _rename_without_replacing(temporary: str, target: Path) -> None:
    try:
        os.link(temporary, target)  # fails with FileExistsError when the name is taken
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links: check, then rename (a small race, no better way)
        if target.exists():
            raise FileExistsError(errno.EEXIST, "already exists", str(target)) from None
        os.replace(temporary, target)
        return
    os.unlink(temporary)


def write_bytes_atomically(path: str | Path, data: bytes, *, replace: bool = True) -> Path:
    """Write `data` to `path` through a temporary file in the same directory and a rename (`atomic_output`):
    a reader (or a crash, or a full disk) sees the old file or the new one, never half of one."""
    with atomic_output(path, "wb", replace=replace) as out:
        out.write(data)
    return Path(path)


def write_text_atomically(path: str | Path, text: str) -> Path:
    """`write_bytes_atomically` for UTF-8 text."""
    return write_bytes_atomically(path, text.encode("utf-8"))


def write_new_file(directory: str | Path, name: str, data: bytes, taken: set[str] | None = None) -> Path:
    """Write `data` as a new file in `directory` (created if missing), atomically, never replacing a file:
    `name` if free, else `stem-2.suffix`, `stem-3.suffix`, ... (a name in `taken`, the ones this command
    already wrote, counts as used too). Returns the path written; `taken` gets its name.

    This is how artifacts (pictures of `eval --out DIR`, of a verb's `--out DIR`) are saved: they exist
    only after the work, so an existing file is kept and the new one takes the next free name.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    taken = set() if taken is None else taken
    stem, dot, suffix = name.rpartition(".")
    candidate, number = name, 1
    while True:
        if candidate not in taken and not (directory / candidate).exists():
            try:
                path = write_bytes_atomically(directory / candidate, data, replace=False)
            except FileExistsError:  # created since we looked: try the next name
                pass
            else:
                taken.add(candidate)
                return path
        number += 1
        candidate = f"{stem}-{number}.{suffix}" if dot else f"{name}-{number}"


def read_user_text(path: Path, what: str, expected: str) -> str:
    """The UTF-8 text of a user's data file, or one DataError naming it: `no such {what}`, a directory
    (`expected {expected}`), not UTF-8 (the reason and byte), or unreadable."""
    from rnnlab.errors import DataError

    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory; expected {expected}") from None
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error.strerror or error})") from None


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

"""File-system checks for the command line: output paths checked before the work, OS errors as one line.

    check_writable("runs/lm", "output directory")        # before training for ten minutes
    check_writable("gates.png", "picture", kind="file")
    check_picture("diagram.xyz")                         # a suffix matplotlib cannot write: refused

`os_error_message(error)` turns the OS errors a user can cause (permission, missing or wrong kind of path,
disk full, read-only file system) into the one line `rnnlab` prints; `rnnlab.cli.main` uses it for every
command, so an error that escapes a command still reads `rnnlab: error: PATH: permission denied`.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from rnnlab.errors import CheckpointError, UserError

#: errno -> the words `rnnlab` uses (strerror varies between systems and locales).
_REASONS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOENT: "no such file or directory",
    errno.ENOTDIR: "a path component is not a directory",
    errno.EISDIR: "is a directory",
    errno.ENOSPC: "no space left on device",
    errno.EROFS: "read-only file system",
    errno.EDQUOT: "disk quota exceeded",
    errno.ENAMETOOLONG: "file name too long",
    errno.EEXIST: "already exists",
    errno.ENOTEMPTY: "directory not empty",
    errno.EMFILE: "too many open files",
    errno.EFBIG: "file too large",
}


class PathError(UserError):
    """An output path that cannot be written, found before any work was done."""


def os_error_message(error: OSError) -> str | None:
    """One line for an OS error a user can cause, or None for one that is not theirs (a bug, a device)."""
    reason = _REASONS.get(error.errno)
    if reason is None:
        return None
    paths = [str(name) for name in (error.filename, error.filename2) if name is not None]
    if not paths:
        return f"{reason} ({error.strerror or error})"
    return f"{' -> '.join(paths)}: {reason}"


def check_writable(path: str | Path, what: str, kind: str = "dir") -> Path:
    """Refuse now, with one line, an output `path` that the work could not write at its end.

    kind "dir": `path` is a directory to write into (it may not exist yet: then its nearest existing
    ancestor must be a directory we can create entries in). kind "file": `path` is a file (written through a
    temporary file and a rename next to it, so its directory must be writable too). Whether a directory is
    writable is tried, not guessed: a temporary file is created there and removed (`os.access` says yes to
    root and to read-only mounts on some systems).
    """
    path = Path(path)
    if kind not in ("dir", "file"):
        raise ValueError(f"check_writable: kind must be 'dir' or 'file', got {kind!r}")
    if str(path) == "":
        raise PathError(f"expected a path for the {what}, got an empty string")
    if path.exists():
        if kind == "dir" and not path.is_dir():
            raise PathError(f"cannot write {what} {path}: it is a file, not a directory")
        if kind == "file" and path.is_dir():
            raise PathError(f"cannot write {what} {path}: it is a directory")
        if kind == "file" and not os.access(path, os.W_OK):
            raise PathError(f"cannot write {what} {path}: permission denied")
    directory = path if kind == "dir" else path.parent
    existing = directory if str(directory) else Path(".")
    while not existing.exists():
        if existing.is_symlink():
            raise PathError(f"cannot write {what} {path}: {existing} is a broken symbolic link")
        existing = existing.parent
    if not existing.is_dir():
        raise PathError(f"cannot write {what} {path}: {existing} is a file, not a directory")
    try:
        handle, probe = tempfile.mkstemp(dir=existing, prefix=".rnnlab-write-test-")
    except OSError as error:
        reason = _REASONS.get(error.errno, error.strerror or str(error))
        where = "" if existing == directory else f" (in {existing})"
        raise PathError(f"cannot write {what} {path}{where}: {reason}") from None
    os.close(handle)
    os.unlink(probe)
    return path


def picture_formats() -> list[str]:
    """The file suffixes matplotlib can write (png, svg, pdf, ...)."""
    from matplotlib.backend_bases import FigureCanvasBase

    return sorted(FigureCanvasBase.get_supported_filetypes())


def check_picture(path: str | Path, what: str = "picture") -> Path:
    """A picture path matplotlib can write: a known suffix and a writable place (see `check_writable`)."""
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    formats = picture_formats()
    if suffix not in formats:
        shown = f"'.{suffix}'" if suffix else "no suffix"
        raise PathError(f"cannot write {what} {path}: {shown}; expected one of {', '.join('.' + f for f in formats)}")
    return check_writable(path, what, kind="file")


def resolve_model_dir(path: str | Path) -> Path:
    """A model directory as given, or a training run's directory: then its best/ (else last/) checkpoint."""
    directory = Path(path)
    if not directory.is_dir():
        raise CheckpointError(f"{directory}: expected a model directory (with config.json), found none")
    if (directory / "config.json").is_file():
        return directory
    for child in ("best", "last"):
        if (directory / child / "config.json").is_file():
            return directory / child
    raise CheckpointError(f"{directory}: missing config.json; not an rnnlab model directory (nor a run with best/)")

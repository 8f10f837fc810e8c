"""File-system checks for the command line: output paths checked before the work, OS errors as one line.

    check_writable("runs/lm", "output directory")        # before training for ten minutes
    check_writable("gates.png", "picture", kind="file")
    check_picture("diagram.xyz")                         # a suffix matplotlib cannot write: refused
    guard_output_file("out.arpa", "ARPA file", inputs=[model_dir], overwrite=args.overwrite)
    guard_output_dir("plots", "artifact directory")

`guard_output_file` is the one check for a file a command writes at a path the user named: never an input
of the command, never inside a model or run directory, never an existing file without `--overwrite`, and
everything `check_writable` refuses. `guard_output_dir` is its counterpart for a directory of artifacts
(written there under new names, `rnnlab.files.write_new_file`). The writes themselves go through
`rnnlab.files.atomic_output` / `write_bytes_atomically`.

`os_error_message(error)` turns the OS errors a user can cause (permission, missing or wrong kind of path,
disk full, read-only file system) into the one line `rnnlab` prints; `rnnlab.cli.main` uses it for every
command, so an error that escapes a command still reads `rnnlab: error: PATH: permission denied`.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterable
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
    if kind not in ("dir", "file"):
        raise ValueError(f"check_writable: kind must be 'dir' or 'file', got {kind!r}")
    if str(path) == "":  # before Path(): Path("") is "."
        raise PathError(f"expected a path for the {what}, got an empty string")
    path = Path(path)
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


def check_picture(path: str | Path, what: str = "picture", *, inputs: Iterable[str | Path | None] = (),
                  overwrite: bool = False) -> Path:  # fmt: skip
    """A picture path matplotlib can write (a known suffix) and `guard_output_file` lets through."""
    if str(path) == "":
        return guard_output_file(path, what)  # its one line for an empty path
    suffix = Path(path).suffix.lower().lstrip(".")
    formats = picture_formats()
    if suffix not in formats:
        shown = f"'.{suffix}'" if suffix else "no suffix"
        raise PathError(f"cannot write {what} {path}: {shown}; expected one of {', '.join('.' + f for f in formats)}")
    return guard_output_file(path, what, inputs=inputs, overwrite=overwrite)


def protected_directory(path: str | Path) -> tuple[Path, str] | None:
    """The model or run directory that `path` is or lies in, with what it is; None when it is in neither.

    Only strong signs count, so a user's own folders are never mistaken for one: a model directory holds
    `config.json` and `manifest.json` (neural checkpoints and n-gram models alike); a run directory holds
    rnnlab's `run.yaml`, or a `best/` or `last/` model. Symbolic links are followed.
    """
    from rnnlab.train.rundir import RUN_FILE  # torch-free, but only needed here

    resolved = Path(path).resolve()
    for directory in (resolved, *resolved.parents):
        if (directory / "config.json").is_file() and (directory / "manifest.json").is_file():
            return directory, "model directory"
        if (directory / RUN_FILE).is_file() or any((directory / name / "config.json").is_file()
                                                   for name in ("best", "last")):  # fmt: skip
            return directory, "run directory"
    return None


def _same_path(path: Path, other: Path) -> bool:
    try:
        return os.path.samefile(path, other)  # also through symbolic and hard links
    except OSError:  # one of them does not exist: only then can the names alone say
        return path.resolve() == other.resolve()


def _refuse_inputs_and_protected(path: str | Path, what: str, inputs: Iterable[str | Path | None]) -> Path:
    if str(path) == "":  # before Path(): Path("") is "."
        raise PathError(f"expected a path for the {what}, got an empty string")
    path = Path(path)
    for source in inputs:
        if source is None or str(source) in ("", "-") or not Path(source).exists():
            continue  # stdin, an option not given, a built-in dataset's name: nothing to destroy
        if _same_path(path, Path(source)):
            shown = "" if str(source) == str(path) else f" ({source})"
            raise PathError(f"cannot write {what} {path}: it is an input of this command{shown}; writing it "
                            "would destroy what the command reads (choose another path)")  # fmt: skip
    found = protected_directory(path)
    if found is not None:
        directory, kind = found
        where = f"it is the {kind}" if directory == path.resolve() else f"it is inside the {kind} {directory}"
        raise PathError(f"cannot write {what} {path}: {where}, whose files rnnlab manages (choose a path "
                        "outside it)")  # fmt: skip
    return path


def guard_output_file(path: str | Path, what: str, *, inputs: Iterable[str | Path | None] = (),
                      overwrite: bool = False, replace_hint: str = "--overwrite replaces it") -> Path:  # fmt: skip
    """Refuse now, with one line naming `path` and `what` it is, an output file the command must not write.

    Refused: an empty path; the same file as one of `inputs` (files or directories the command reads: a
    corpus, an `--input` file, the model directory; None, '' and '-' are skipped); a path in a model or run
    directory (`protected_directory`); an existing file unless `overwrite` (the message then says
    `replace_hint`); and everything `check_writable(path, what, kind="file")` refuses. Returns the path.
    Write it afterwards with `rnnlab.files.atomic_output` or `write_bytes_atomically`.
    """
    path = _refuse_inputs_and_protected(path, what, inputs)
    check_writable(path, what, kind="file")
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise PathError(f"cannot write {what} {path}: the file already exists; {replace_hint}, or choose another "
                        "path")  # fmt: skip
    return path


def guard_output_dir(path: str | Path, what: str, *, inputs: Iterable[str | Path | None] = ()) -> Path:
    """`guard_output_file` for a directory that files are added to (artifacts: `rnnlab.files.write_new_file`
    never replaces one there, so existing files need no --overwrite): not an input, not a model or run
    directory nor inside one, and writable (`check_writable`)."""
    path = _refuse_inputs_and_protected(path, what, inputs)
    return check_writable(path, what, kind="dir")


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

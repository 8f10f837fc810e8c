"""Run directories: what one holds, a guard that never loses or takes over a run, a lock, and a listing.

A run directory is where `rnnlab train` writes (a task config's `output_dir`): `best/`, `last/`,
`metrics.jsonl`, `loss_curve.png` for a neural task, `config.json` + `model.npz` for an n-gram model, and
always `run.yaml` (the task and its whole config, a valid `rnnlab train` config) and `.lock`.

`guard_run_directory(path, task, resume=..., overwrite=..., settings=...)` is what `rnnlab train` wraps
every task's training in:

- it locks the directory (`RunLock`: `fcntl.flock` on `.lock`, released by the OS when the process dies,
  so a killed run leaves no stale lock); a second training on it is refused naming the holder's PID;
- a directory that holds a run (`RUN_MARKERS`) is refused unless `resume` (continue it: `last/` must exist,
  the task must be the same, and the settings must be the saved ones except `SAFE_ON_RESUME`) or
  `overwrite` (the old run is renamed to `<dir>.old-<time>` in one `rename`; nothing is deleted);
- it writes `run.yaml` (atomically);
- a fresh run that fails before its first checkpoint is undone (what it wrote is removed, a run it moved
  aside is moved back), so it never leaves a directory that blocks the next `rnnlab train`.

`check_run_directory` makes the guard's checks alone, read-only: `rnnlab train` calls it before it builds
the data and the model.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rnnlab.errors import RunDirectoryError
from rnnlab.paths import protected_directory

try:  # POSIX; elsewhere the lock is a no-op (the guard still refuses to overwrite a run)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "LOCK_FILE",
    "RUN_FILE",
    "RUN_MARKERS",
    "SAFE_ON_RESUME",
    "RunInfo",
    "RunLock",
    "changed_settings",
    "check_run_directory",
    "describe_run",
    "format_runs",
    "guard_run_directory",
    "holds_run",
    "list_runs",
    "move_aside",
    "run_task",
    "saved_settings",
]

RUN_FILE = "run.yaml"
LOCK_FILE = ".lock"
#: Entries whose presence means "a run lives here": training into the directory would replace them.
RUN_MARKERS = ("best", "last", "metrics.jsonl", "config.json", "model.npz", ".best.old", ".last.old")
#: Config keys a resumed run may change (they bound or display the run; they do not change what was trained).
SAFE_ON_RESUME = frozenset({
    "output_dir", "trainer.max_steps", "trainer.max_epochs", "trainer.max_minutes", "trainer.progress",
    "trainer.plot", "trainer.save_every", "trainer.log_every", "trainer.device", "trainer.early_stopping_patience",
})  # fmt: skip


# ------------------------------------------------------------------------------------------------ lock
class RunLock:
    """An exclusive `flock` on `<directory>/.lock` holding the owner's PID; released when the process ends.

    The lock file is never deleted (deleting a lock file another process has open is the classic race).
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        while True:
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as error:
                raise RunDirectoryError(
                    f"{self.directory}: cannot use as a run directory ({error.strerror or error})"
                ) from None
            if fcntl is None:
                break
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(fd, 64).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                raise RunDirectoryError(
                    f"{self.directory} is being trained by process {holder} (it holds {self.path}); wait for it to "
                    "end, or train into another output_dir"
                ) from None
            try:  # the file we locked must still be the one at self.path (a failed run may remove its own)
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except OSError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd = fd
        return self

    def remove(self) -> None:
        """Delete the lock file while still holding it (a run that wrote nothing cleans up after itself)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)

    def release(self) -> None:
        if self._fd is not None:
            if fcntl is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


# ------------------------------------------------------------------------------------------- contents
def holds_run(directory: str | Path) -> bool:
    """True if `directory` holds a run or a model that training into it would replace."""
    directory = Path(directory)
    return any((directory / name).exists() for name in RUN_MARKERS)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def _read_run_file(directory: Path) -> dict[str, Any] | None:
    import yaml

    try:
        data = yaml.safe_load((directory / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return data if isinstance(data, dict) else None


def run_task(directory: str | Path) -> str | None:
    """The task of the run in `directory` (run.yaml, else a config.json of the model or its checkpoints)."""
    directory = Path(directory)
    run = _read_run_file(directory)
    if run is not None and isinstance(run.get("task"), str):
        return run["task"]
    for config in ("config.json", "last/config.json", "best/config.json", ".last.old/config.json"):
        data = _read_json(directory / config)
        if isinstance(data, dict) and isinstance(data.get("task"), str):
            return data["task"]
    return None


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = list(value) if isinstance(value, tuple) else value
    return flat


def _run_file_settings(directory: Path) -> dict[str, Any]:
    """run.yaml's settings as flat dotted keys ({} without one)."""
    run = _read_run_file(directory)
    return _flatten({key: value for key, value in run.items() if key != "task"}) if run is not None else {}


def _checkpoint_settings(directory: Path) -> dict[str, Any]:
    """What the run's last/ checkpoint recorded, as flat dotted keys: the task's config (last/config.json,
    for the tasks that store it) and the trainer's (last/trainer_state/state.json); {} without one."""
    flat: dict[str, Any] = {}
    for name in ("last", ".last.old"):  # .last.old: a save died between its two renames
        config = _read_json(directory / name / "config.json")
        state = _read_json(directory / name / "trainer_state" / "state.json")
        if isinstance(config, dict) and isinstance(config.get("config"), dict):
            flat.update(_flatten(config["config"]))
        if isinstance(state, dict) and isinstance(state.get("trainer_config"), dict):
            flat.update(_flatten(state["trainer_config"], "trainer."))
        if flat:
            break
    return flat


def saved_settings(directory: str | Path) -> dict[str, Any] | None:
    """The settings the run was trained with, as flat dotted keys (or None if nothing records them): what
    its last/ checkpoint recorded, and run.yaml for the keys the checkpoint does not record. (run.yaml is
    the user's to edit; the checkpoint says what was trained.)"""
    directory = Path(directory)
    flat = {**_run_file_settings(directory), **_checkpoint_settings(directory)}
    return flat or None


def changed_settings(saved: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """(key, saved value, new value) for every key of `new` that differs from `saved`, except SAFE_ON_RESUME.

    Keys the saved config does not have (a config key added since) are not compared.
    """
    new = _flatten(new)
    return [(key, saved[key], value) for key, value in new.items()
            if key in saved and key not in SAFE_ON_RESUME and saved[key] != value]  # fmt: skip


def move_aside(directory: str | Path) -> Path:
    """Rename `directory` to `<name>.old-<YYYYmmdd-HHMMSS>[-n]` next to it (one rename: never half-moved)."""
    directory = Path(directory)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = directory.with_name(f"{directory.name}.old-{stamp}")
    n = 1
    while target.exists():
        target = directory.with_name(f"{directory.name}.old-{stamp}-{n}")
        n += 1
    try:
        os.rename(directory, target)
    except OSError as error:
        raise RunDirectoryError(f"{directory}: cannot move the old run aside to {target} ({error.strerror or error})") from None
    return target


def _write_run_file(directory: Path, task: str, settings: Mapping[str, Any]) -> None:
    import yaml

    text = ("# written by `rnnlab train`; train again with: rnnlab train " + str(directory / RUN_FILE) + " --resume\n"
            + yaml.safe_dump({"task": task, **settings}, sort_keys=False, allow_unicode=True))  # fmt: skip
    tmp = directory / f".{RUN_FILE}.tmp"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, directory / RUN_FILE)


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def check_run_directory(
    directory: str | Path,
    task: str,
    *,
    resume: bool = False,
    overwrite: bool = False,
    resumable: bool = True,
    settings: Mapping[str, Any] | None = None,
) -> Path:
    """The refusals of `guard_run_directory`, read-only: raise RunDirectoryError where it would refuse to
    start (see there); create, lock and write nothing. `rnnlab train` calls it before it builds the data
    and the model, so that a refused run costs no work; the guard checks again under the lock.
    """
    directory = Path(directory)
    if resume and overwrite:
        raise RunDirectoryError("--resume continues the run in output_dir, --overwrite moves it aside: give one")
    if resume and not resumable:
        raise RunDirectoryError(f"task {task!r} trains in one pass; --resume does not apply")
    if directory.exists() and not directory.is_dir():
        raise RunDirectoryError(f"{directory}: output_dir is a file, not a directory")
    check_not_inside_a_run(directory)
    _check(directory, task, resume=resume, overwrite=overwrite, settings=settings, note=False, resumable=resumable)
    return directory


def check_not_inside_a_run(directory: str | Path) -> None:
    """Refuse a run directory inside another run's or a model's directory: it would write into that one (and
    a later --overwrite of the outer run would move the inner one aside with it)."""
    enclosing = protected_directory(Path(os.path.abspath(directory)).parent)
    if enclosing is not None:
        place, what = enclosing
        raise RunDirectoryError(f"{directory}: output_dir lies inside the {what} {place}; train into a directory "
                                "of its own")  # fmt: skip


#: What a training writes into its run directory besides checkpoints (removed again by a failed start).
_RUN_OUTPUTS = (RUN_FILE, f".{RUN_FILE}.tmp", "metrics.jsonl", "metrics.jsonl.tmp", "loss_curve.png")
#: Entries that hold a model or a checkpoint: a run that has one is kept whatever happens after.
_SAVED = tuple(name for name in RUN_MARKERS if name != "metrics.jsonl")


@contextlib.contextmanager
def guard_run_directory(
    directory: str | Path,
    task: str,
    *,
    resume: bool = False,
    overwrite: bool = False,
    resumable: bool = True,
    settings: Mapping[str, Any] | None = None,
) -> Iterator[Path]:
    """Lock `directory` for one training of `task` and make sure no other run is lost or taken over.

    resume: continue the run there (needs last/, the same task, and `settings` equal to the saved ones
    except SAFE_ON_RESUME). overwrite: move a run that is there aside first. Neither: the directory must
    hold no run. settings: the task's whole config (`config_to_dict`), written to run.yaml.
    Raises RunDirectoryError with a one-line message naming the directory and the flags; a refusal changes
    no file (`check_run_directory` makes the same checks without the lock).

    A fresh run (not `resume`) that fails in any way (an error, a divergence, a full disk, Ctrl-C twice)
    before its first checkpoint or model (`best/`, `last/`) exists leaves the directory as it found it:
    what it wrote (run.yaml, metrics.jsonl, loss_curve.png, the lock file and directories it created) is
    removed, and a run moved aside by --overwrite is moved back; so the same command can simply be run
    again. A run with a checkpoint is kept (--resume continues it), and a failed --resume changes nothing
    but run.yaml's SAFE_ON_RESUME keys: the run stays resumable.
    """
    directory = check_run_directory(directory, task, resume=resume, overwrite=overwrite, resumable=resumable,
                                    settings=settings)  # before any write  # fmt: skip
    created = _first_missing(directory)
    lock_existed = (directory / LOCK_FILE).exists()
    lock = RunLock(directory).acquire()
    moved: Path | None = None
    run_file = directory / RUN_FILE
    old_run_file = run_file.read_bytes() if run_file.is_file() else None
    existed = {name for name in _RUN_OUTPUTS if (directory / name).exists()}
    try:
        # again under the lock: another training may have written here since the first look
        _check(directory, task, resume=resume, overwrite=overwrite, settings=settings, note=True,
               resumable=resumable)
        if not resume and holds_run(directory):  # overwrite: rename while still holding the lock
            moved = move_aside(directory)
            if not lock_existed:  # the old run is left as it was
                (moved / LOCK_FILE).unlink(missing_ok=True)
            lock.release()
            print(f"rnnlab: moved the previous run in {directory} to {moved}", file=sys.stderr)
            created, lock_existed, old_run_file, existed = directory, False, None, set()
            lock = RunLock(directory).acquire()
        if settings is not None:  # on resume only SAFE_ON_RESUME keys can differ: record the latest
            _write_run_file(directory, task, settings)
        yield directory
    except BaseException:
        if not resume and not any((directory / name).exists() for name in _SAVED):
            _undo(directory, lock, old_run_file, existed, lock_existed, created, moved)
        raise
    finally:
        lock.release()


def refuse_foreign_outputs(directory: Path) -> None:
    """Refuse a directory that holds no run but files of the names training writes that no run wrote: a
    `run.yaml` without the first line rnnlab writes ("# written by `rnnlab train`"), a `loss_curve.png`.
    They are the user's own, and training would replace them. (In a directory that holds a run they are
    the run's: the checks for runs apply.) `--overwrite` moves only a run aside, so it does not apply."""
    if holds_run(directory):
        return
    foreign = []
    run_file = directory / RUN_FILE
    if run_file.is_file():
        with contextlib.suppress(OSError), run_file.open("rb") as handle:
            if not handle.readline().startswith(b"# written by `rnnlab train`"):
                foreign.append(RUN_FILE)
    if (directory / "loss_curve.png").exists():
        foreign.append("loss_curve.png")
    if foreign:
        raise RunDirectoryError(
            f"{directory} holds {' and '.join(foreign)} that no rnnlab run wrote; training would replace "
            f"{'it' if len(foreign) == 1 else 'them'}: move {'it' if len(foreign) == 1 else 'them'} away, or choose "
            "another output_dir"
        )


def _check(directory: Path, task: str, *, resume: bool, overwrite: bool, settings: Mapping[str, Any] | None,
           note: bool, resumable: bool = True) -> None:  # fmt: skip
    refuse_foreign_outputs(directory)  # a user's own run.yaml or loss_curve.png
    existing = run_task(directory)
    if resume:
        _check_resume(directory, task, existing, settings, note)
    elif holds_run(directory) and not overwrite:
        aside = f"--overwrite moves it aside (to {directory.name}.old-<time>) and starts afresh"
        if existing not in (None, task):
            raise RunDirectoryError(
                f"{directory} holds a {existing!r} run; training {task!r} into it would take it over: choose "
                f"another output_dir, or {aside} (--resume continues only a {existing!r} run)"
            )
        what = f"a {existing!r} run" if existing else "a run"
        resume_hint = "--resume continues it, " if resumable else ""  # a one-pass task (ngram) has no --resume
        raise RunDirectoryError(
            f"{directory} already holds {what}: {resume_hint}{aside}; or choose another output_dir"
        )


def _first_missing(directory: Path) -> Path | None:
    """The highest ancestor of `directory` (itself included) that does not exist yet; None if it exists."""
    missing = None
    for path in (directory, *directory.parents):
        if path.exists():
            break
        missing = path
    return missing


def _undo(directory: Path, lock: RunLock, old_run_file: bytes | None, existed: set[str], lock_existed: bool,
          created: Path | None, moved: Path | None) -> None:  # fmt: skip
    """Remove what a failed start wrote (not what was there before it), and move back a run moved aside."""
    for name in _RUN_OUTPUTS:
        if name not in existed:
            with contextlib.suppress(OSError):
                (directory / name).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        if old_run_file is not None:
            (directory / RUN_FILE).write_bytes(old_run_file)
        if not lock_existed:
            lock.remove()
        if created is not None:
            path = directory
            while True:
                path.rmdir()  # only if empty
                if path == created:
                    break
                path = path.parent
        if moved is not None and not directory.exists():
            os.rename(moved, directory)
            print(f"rnnlab: moved the previous run back to {directory}", file=sys.stderr)


def _check_resume(directory: Path, task: str, existing: str | None, settings: Mapping[str, Any] | None,
                  note: bool) -> None:  # fmt: skip
    if not (directory / "last").is_dir() and not (directory / ".last.old").is_dir():
        raise RunDirectoryError(
            f"--resume: {directory} has no last/ checkpoint to continue from; train without --resume to start a run"
            + (" (or --overwrite to move what is there aside)" if holds_run(directory) else "")
        )
    if existing is not None and existing != task:
        raise RunDirectoryError(f"--resume: {directory} holds a {existing!r} run, not a {task!r} one")
    if settings is None:
        return
    saved = saved_settings(directory)
    if saved is None:
        if note:
            print(f"rnnlab: note: {directory} records no settings (no {RUN_FILE}); resuming with the saved optimizer "
                  "and schedule state", file=sys.stderr)  # fmt: skip
        return
    changed = changed_settings(saved, settings)
    if changed:
        listed = ", ".join(f"{key} {_show(old)} -> {_show(new)}" for key, old, new in changed)
        # a key where run.yaml itself disagrees with last/: the user edited run.yaml to change the run
        run_file, checkpoint = _run_file_settings(directory), _checkpoint_settings(directory)
        edited = [key for key, _, _ in changed if key in run_file and run_file[key] != checkpoint.get(key, run_file[key])]
        where = (f"{RUN_FILE} was edited after last/ was saved: put back the saved {', '.join(edited)} there" if edited
                 else f"{RUN_FILE} has the rest: rnnlab train {directory / RUN_FILE} --resume")  # fmt: skip
        raise RunDirectoryError(
            f"--resume: {directory} was trained with other settings ({listed}); a resumed run continues with its "
            f"saved ones, so change only {', '.join(sorted(SAFE_ON_RESUME - {'output_dir'}))} ({where}), or "
            "start a new run"
        )


# ---------------------------------------------------------------------------------------------- listing
@dataclass
class RunInfo:
    """One run directory as `rnnlab runs` shows it."""

    path: str
    task: str | None
    metric: str | None = None
    best_value: float | None = None
    best_step: int | None = None
    steps: int | None = None
    size_bytes: int = 0
    diverged: str | None = None  # the reason, if the run's last record says it diverged
    modified: float | None = None  # Unix time of its newest metrics record / model file

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _size(directory: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(directory):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


def describe_run(directory: str | Path) -> RunInfo:
    """Task, best metric and value, steps and size of the run in `directory` (what its files record)."""
    from rnnlab.train.metrics import read_metrics

    directory = Path(directory)
    info = RunInfo(path=str(directory), task=run_task(directory), size_bytes=_size(directory))
    state = _read_json(directory / "last" / "trainer_state" / "state.json")
    if isinstance(state, dict):
        info.steps = state.get("step")
        info.best_value, info.best_step = state.get("best_value"), state.get("best_step")
        trainer_config = state.get("trainer_config")
        if isinstance(trainer_config, dict):
            info.metric = trainer_config.get("metric")
    records = read_metrics(directory / "metrics.jsonl") if (directory / "metrics.jsonl").is_file() else []
    if records:
        last = records[-1]
        info.steps = max(info.steps or 0, max(r.get("step") or 0 for r in records))
        if last.get("event") == "diverged":
            info.diverged = last.get("reason")
        if info.best_value is None:  # no last/ (save_last false) or a run killed before its first save
            evals = [r for r in records if r.get("event") == "eval" and r.get("best") is not None]
            if evals:
                info.best_value = evals[-1]["best"]
                info.best_step = next((r["step"] for r in reversed(evals) if r.get("improved")), None)
        info.modified = last.get("time")
    if info.metric is None and info.best_value is not None:
        run = _read_run_file(directory) or {}
        trainer = run.get("trainer") if isinstance(run.get("trainer"), dict) else {}
        info.metric = trainer.get("metric", "loss")
    if info.modified is None:
        with contextlib.suppress(OSError):
            info.modified = max(p.stat().st_mtime for p in directory.iterdir())
    return info


def list_runs(root: str | Path = "runs", *, max_depth: int = 3) -> list[RunInfo]:
    """Every run directory under `root` (root itself too), sorted by path; runs are not descended into."""
    root = Path(root)
    if not root.is_dir():
        raise RunDirectoryError(f"{root}: no such directory (expected a folder of training runs, e.g. runs/)")
    found: list[RunInfo] = []

    def visit(directory: Path, depth: int) -> None:
        if holds_run(directory) or (directory / RUN_FILE).is_file():
            found.append(describe_run(directory))
            return
        if depth >= max_depth:
            return
        try:
            children = sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))
        except OSError:
            return
        for child in children:
            visit(child, depth + 1)

    visit(root, 0)
    return found


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover


def format_runs(runs: list[RunInfo]) -> str:
    """A table: run, task, metric, best (at step), steps, size."""
    if not runs:
        return "no runs"
    rows = [("run", "task", "metric", "best", "at step", "steps", "size")]
    for run in runs:
        best = "-" if run.best_value is None else f"{run.best_value:.4g}"
        if run.diverged:
            best += " (diverged)"
        rows.append((run.path, run.task or "?", run.metric or "-", best,
                     "-" if run.best_step is None else str(run.best_step),
                     "-" if run.steps is None else str(run.steps), _human_size(run.size_bytes)))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    right = {3, 4, 5, 6}
    return "\n".join(
        "  ".join(cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
        for row in rows
    )


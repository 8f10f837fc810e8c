"""Every task registers one `TaskDescriptor`; the CLI, `eval`, the prediction verbs, `data list`, the
shipped-config test and the docs find tasks here and nowhere else.

A task module ends with

    DESCRIPTOR = register_task(TaskDescriptor(
        name="regression", summary="...", config_class=RegressionConfig,
        build=build, load=load_regressor, evaluate=evaluate, format_eval=format_evaluation,
        verbs=(PREDICT,),
    ))

and is found because it lives in the `rnnlab.tasks` package (every module there is imported by
`discover_tasks`), or, for a task in another package, because that package names its module under the
`rnnlab.tasks` entry-point group. A saved model directory says which task wrote it (`config.json`'s
`"task"`), so `rnnlab eval DIR` and the prediction verbs (`generate`, `score`, `translate`, `tag`,
`classify`, `cloze`, `predict`) dispatch on it. A YAML config names its task too (`task:`); reading one is
`rnnlab.tasks.configs`.
"""

from __future__ import annotations

import difflib
import importlib
import json
import pkgutil
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

from rnnlab.errors import CheckpointError, ConfigError, DataError, UserError
from rnnlab.paths import resolve_model_dir
from rnnlab.verbs import Verb, check_same_options

T = TypeVar("T")

@dataclass(frozen=True)
class EvalRequest:
    """What `rnnlab eval` asks for: a split of the model's own data, or a file in the task's format."""

    split: str = "test"
    data_file: str | None = None

    def __post_init__(self) -> None:
        from rnnlab.validation import check_split

        if self.data_file is None:
            object.__setattr__(self, "split", check_split(self.split))

    def examples_of(self, splits: Mapping[str, Sequence[T]]) -> Sequence[T]:
        """The requested split of a task's data, with the same two errors in every task."""
        if self.split not in splits:
            raise DataError(f"--split: expected one of {', '.join(splits)}, got {self.split!r}")
        if not splits[self.split]:
            raise DataError(f"the {self.split} split of this model's data is empty; pass --data FILE")
        return splits[self.split]


@dataclass(frozen=True)
class TaskDescriptor:
    """One task, registered once.

    name: the `task:` of its YAML configs, the `"task"` of its model directories, `rnnlab train NAME`.
    summary: one line for `rnnlab --help` and `rnnlab train --help`.
    config_class: the dataclass its YAML config is read into (`rnnlab.config.load_config`).
    build: trainable tasks: `(config) -> rnnlab.train.TrainSetup` (the train task, the model and what to do
        after fitting); `rnnlab train` builds the one Trainer around it (`rnnlab.train.run`).
    train: one-pass tasks (n-gram counting) instead: `(config, resume) -> summary dict`.
    load: `(model_dir) -> object` the task's verbs run on (a LanguageModel, a Translator, ...).
    evaluate: `(model_dir, EvalRequest) -> dict` of JSON-ready results (`rnnlab eval --json` prints it); an
        `"artifacts"` entry, a list of `rnnlab.verbs.Artifact` (a confusion plot), is written by the caller.
    format_eval: `(result dict) -> str`, the human-readable report `rnnlab eval` prints.
    verbs: the `rnnlab.verbs.Verb`s its loaded model offers (`rnnlab VERB MODEL_DIR ...`, a server route).
    config_folder: its presets live in `configs/<config_folder>/` (default: the name).
    presets: where its YAML presets are, for help text (default `configs/<folder>/` of an rnnlab checkout).
    docs: its documentation page (a path in rnnlab's docs/ or a URL), for help text and the docs index.
    positional: a config key that a bare word after the task name sets (`rnnlab train ngram tang`).
    run_dir: `(config) -> Path | None`, the directory `train` writes (default: the config's `output_dir`);
        `rnnlab train` guards and locks it (rnnlab.train.rundir) before training.
    resumable: whether a run can be continued with --resume (default: trainable tasks can, one-pass ones not).
    """

    name: str
    summary: str
    config_class: type
    load: Callable[[Path], Any]
    evaluate: Callable[[Path, EvalRequest], dict]
    format_eval: Callable[[dict], str]
    build: Callable[[Any], Any] | None = None
    train: Callable[[Any, bool], dict] | None = None
    verbs: tuple[Verb, ...] = ()
    config_folder: str | None = None
    presets: str | None = None
    docs: str | None = None
    positional: str | None = None
    run_dir: Callable[[Any], str | Path | None] | None = None
    resumable: bool | None = None

    def __post_init__(self) -> None:
        if (self.build is None) == (self.train is None):
            raise ValueError(f"task {self.name!r}: give `build` (trainable) or `train` (one pass), exactly one")
        if self.resumable is None:
            object.__setattr__(self, "resumable", self.build is not None)
        object.__setattr__(self, "verbs", tuple(self.verbs))
        for verb in self.verbs:
            if not isinstance(verb, Verb):
                raise TypeError(f"task {self.name!r}: verbs must be rnnlab.verbs.Verb objects, got {verb!r}")
        names = [verb.name for verb in self.verbs]
        if len(set(names)) != len(names):
            raise ValueError(f"task {self.name!r} offers a verb twice: {names}")

    @property
    def origin(self) -> str:
        """The module that registered the task (rnnlab.tasks.* for the shipped ones)."""
        return _origin(self)

    @property
    def folder(self) -> str:
        return self.config_folder or self.name

    @property
    def presets_hint(self) -> str:
        return self.presets or f"configs/{self.folder}/"

    def verb(self, name: str) -> Verb | None:
        return next((verb for verb in self.verbs if verb.name == name), None)

    def run_directory(self, config: Any) -> Path | None:
        """Where training `config` writes its run (None: nowhere to guard)."""
        path = self.run_dir(config) if self.run_dir is not None else getattr(config, "output_dir", None)
        return Path(path) if path is not None else None


class RegistrationClash(ValueError):
    """A task (or a verb's options) that clashes with one already registered."""


_TASKS: dict[str, TaskDescriptor] = {}
_DISCOVERED = False


_PLUGIN: str | None = None  # the entry point being loaded, while discover_tasks loads one


def _origin(descriptor: TaskDescriptor) -> str:
    function = descriptor.build or descriptor.train
    return getattr(function, "__module__", "?")


def register_task(descriptor: TaskDescriptor) -> TaskDescriptor:
    """Add a task; a second task of the same name (or a verb whose options differ) is refused loudly.

    Registering the same module's descriptor again (a module imported twice) is harmless. A task registered
    outside discovery (a test, a notebook) makes the command line describe tasks live instead of from its
    cached index (`rnnlab.tasks.index`).
    """
    global _LIVE
    existing = _TASKS.get(descriptor.name)
    if existing is not None and _origin(existing) != _origin(descriptor):
        raise RegistrationClash(
            f"task {descriptor.name!r} is registered twice ({_origin(existing)}, {_origin(descriptor)})"
        )
    for other in _TASKS.values():
        if other.name == descriptor.name:
            continue
        for verb in descriptor.verbs:
            theirs = other.verb(verb.name)
            if theirs is not None:
                try:
                    check_same_options(theirs, verb, (other.name, descriptor.name))
                except ValueError as error:
                    raise RegistrationClash(str(error)) from None
    _TASKS[descriptor.name] = descriptor
    if not _DISCOVERING:
        _LIVE = True
    return descriptor


_DISCOVERING = False
_WARNINGS: list[str] = []
_PRINTED: set[str] = set()
_LIVE = False  # a task was registered outside discovery: describe tasks live, not from the cached index


def discover_tasks() -> dict[str, TaskDescriptor]:
    """Import every module of `rnnlab.tasks` (and `rnnlab.tasks` entry points) once; name -> descriptor.

    A plugin (an entry point of another package) that fails to import, or whose task clashes with one
    already registered, is skipped with one warning line on stderr naming the package: the command line
    keeps working for everything else.
    """
    global _DISCOVERED, _DISCOVERING
    if not _DISCOVERED:
        import rnnlab.tasks as package

        _DISCOVERING = True
        try:
            for module in pkgutil.iter_modules(package.__path__, prefix="rnnlab.tasks."):
                importlib.import_module(module.name)
            for entry in metadata.entry_points(group="rnnlab.tasks"):
                _load_plugin(entry)
        finally:
            _DISCOVERING = False
        _DISCOVERED = True
    return dict(sorted(_TASKS.items()))


def _load_plugin(entry: metadata.EntryPoint) -> None:
    from rnnlab.data import registry as datasets

    before = dict(_TASKS)
    before_data = dict(datasets._REGISTRY), dict(datasets._ORIGINS)
    try:
        entry.load()
    except Exception as error:  # noqa: BLE001 - someone else's package: any failure is theirs, reported, skipped
        _TASKS.clear()
        _TASKS.update(before)  # nothing half-registered stays: neither its tasks nor its datasets
        for table, saved in zip((datasets._REGISTRY, datasets._ORIGINS), before_data):
            table.clear()
            table.update(saved)
        package = entry.dist.name if entry.dist is not None else entry.value
        message = " ".join(f"{type(error).__name__}: {error}".split())
        warning = f"rnnlab: warning: skipped plugin {entry.name!r} ({package}, {entry.value}): {message}"
        _WARNINGS.append(warning)
        warn_once(warning)


def warn_once(line: str) -> None:
    """Print a warning line on stderr, once per process (the command index may have shown it already)."""
    if line not in _PRINTED:
        _PRINTED.add(line)
        print(line, file=sys.stderr)


def plugin_warnings() -> list[str]:
    """The warning lines of plugins skipped by discovery (the command index repeats them)."""
    return list(_WARNINGS)


def is_live() -> bool:
    """Whether the registry is best described live (already discovered, or a task registered by hand)."""
    return _DISCOVERED or _LIVE


def get_task(name: str, where: str = "") -> TaskDescriptor:
    """The descriptor of `name`, or a one-line error naming the known tasks."""
    tasks = discover_tasks()
    if name in tasks:
        return tasks[name]
    close = difflib.get_close_matches(str(name), tasks, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    prefix = f"{where}: " if where else ""
    raise ConfigError(f"{prefix}unknown task {name!r}{hint}; expected one of {', '.join(tasks)}")


def tasks_offering(verb: str) -> list[str]:
    return [name for name, task in discover_tasks().items() if task.verb(verb) is not None]


def all_verbs() -> dict[str, Verb]:
    """Every verb name -> its Verb (the first task's; tasks sharing a verb share its options)."""
    verbs: dict[str, Verb] = {}
    for task in discover_tasks().values():
        for verb in task.verbs:
            verbs.setdefault(verb.name, verb)
    return dict(sorted(verbs.items()))


# ----------------------------------------------------------------------------------------- model dirs
def read_task_name(path: str | Path) -> str:
    """The `task` recorded in a model directory's config.json, with a clear error if absent or unknown."""
    config_file = resolve_model_dir(path) / "config.json"
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{config_file}: not valid JSON ({error})") from None
    task = config.get("task") if isinstance(config, dict) else None
    tasks = discover_tasks()
    if not isinstance(task, str) or task not in tasks:
        raise CheckpointError(f"{config_file}: unknown task {task!r}; expected one of {', '.join(tasks)}")
    return task


def task_of_model(path: str | Path) -> TaskDescriptor:
    return discover_tasks()[read_task_name(path)]


def task_offering(path: str | Path, verb: str) -> TaskDescriptor:
    """The task of the model in `path`, refused in one line (naming the tasks that do) if it lacks `verb`."""
    task = task_of_model(path)
    if task.verb(verb) is None:
        offering = tasks_offering(verb)
        raise UserError(
            f"{path}: a {task.name!r} model; `rnnlab {verb}` needs a model of task "
            f"{' or '.join(repr(name) for name in offering) or '(none)'}"
        )
    return task


def open_model(path: str | Path, verb: str) -> Any:
    """Load the model in `path` for the prediction verb `verb`, refusing a model that does not offer it."""
    return task_offering(path, verb).load(resolve_model_dir(path))

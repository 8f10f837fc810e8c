"""Every task registers one `TaskDescriptor`; the CLI, `eval`, the prediction verbs, `data list`, the
shipped-config test and the docs find tasks here and nowhere else.

A task module ends with

    DESCRIPTOR = register_task(TaskDescriptor(
        name="regression", summary="...", config_class=RegressionConfig,
        train=train, load=load_regressor, evaluate=evaluate, format_eval=format_evaluation,
        verbs=("predict",),
    ))

and is found because it lives in the `rnnlab.tasks` package (every module there is imported by
`discover_tasks`), or, for a task in another package, because that package names its module under the
`rnnlab.tasks` entry-point group. A saved model directory says which task wrote it (`config.json`'s
`"task"`), so `rnnlab eval DIR` and the prediction verbs (`generate`, `score`, `translate`, `tag`,
`classify`, `cloze`, `predict`) dispatch on it.
"""

from __future__ import annotations

import difflib
import importlib
import json
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

from rnnlab.errors import CheckpointError, ConfigError, DataError, UserError

T = TypeVar("T")

#: What each prediction verb asks of the object a task's `load` returns (the commands call these).
VERBS: dict[str, str] = {
    "generate": "sample text (rnnlab.lm.interface.LanguageModel.generate)",
    "score": "log-probability of sentences (LanguageModel.score)",
    "translate": "translate sentences (rnnlab.tasks.translation.Translator)",
    "tag": "tag tokens (rnnlab.tasks.tagging.Tagger)",
    "classify": "label sentences (rnnlab.tasks.classification.Classifier)",
    "cloze": "fill a blank (rnnlab.tasks.cloze.ClozeModel)",
    "predict": "the task's own `predict(model, inputs) -> list[dict]`",
}


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
    train: `(config, resume) -> summary dict` (the Trainer's summary: steps, metric, best_value, ...).
    load: `(model_dir) -> object` the prediction verbs use (a LanguageModel, a Translator, ...).
    evaluate: `(model_dir, EvalRequest) -> dict` of JSON-ready results (`rnnlab eval --json` prints it).
    format_eval: `(result dict) -> str`, the human-readable report `rnnlab eval` prints.
    verbs: the prediction verbs its loaded model offers (keys of `VERBS`).
    predict: for the `predict` verb: `(loaded model, inputs: list[str]) -> list[dict]`.
    config_folder: its presets live in `configs/<config_folder>/` (default: the name).
    positional: a config key that a bare word after the task name sets (`rnnlab train ngram tang`).
    run_dir: `(config) -> Path | None`, the directory `train` writes (default: the config's `output_dir`);
        `rnnlab train` guards and locks it (rnnlab.train.rundir) before calling `train`.
    resumable: whether `train(config, resume=True)` can continue a run (False: one-pass estimation).
    """

    name: str
    summary: str
    config_class: type
    train: Callable[[Any, bool], dict]
    load: Callable[[Path], Any]
    evaluate: Callable[[Path, EvalRequest], dict]
    format_eval: Callable[[dict], str]
    verbs: tuple[str, ...] = ()
    predict: Callable[[Any, list[str]], list[dict]] | None = None
    config_folder: str | None = None
    positional: str | None = None
    run_dir: Callable[[Any], str | Path | None] | None = None
    resumable: bool = True

    def __post_init__(self) -> None:
        unknown = [verb for verb in self.verbs if verb not in VERBS]
        if unknown:
            raise ValueError(f"task {self.name!r}: unknown verbs {unknown}; expected some of {sorted(VERBS)}")
        if "predict" in self.verbs and self.predict is None:
            raise ValueError(f"task {self.name!r} offers `predict` but gives no predict function")

    @property
    def folder(self) -> str:
        return self.config_folder or self.name

    def run_directory(self, config: Any) -> Path | None:
        """Where training `config` writes its run (None: nowhere to guard)."""
        path = self.run_dir(config) if self.run_dir is not None else getattr(config, "output_dir", None)
        return Path(path) if path is not None else None


_TASKS: dict[str, TaskDescriptor] = {}
_DISCOVERED = False


def register_task(descriptor: TaskDescriptor) -> TaskDescriptor:
    """Add a task; registering the same name from another module is a mistake worth a loud error."""
    existing = _TASKS.get(descriptor.name)
    if existing is not None and existing.train.__module__ != descriptor.train.__module__:
        raise ValueError(
            f"task {descriptor.name!r} is registered twice ({existing.train.__module__}, {descriptor.train.__module__})"
        )
    _TASKS[descriptor.name] = descriptor
    return descriptor


def discover_tasks() -> dict[str, TaskDescriptor]:
    """Import every module of `rnnlab.tasks` (and `rnnlab.tasks` entry points) once; name -> descriptor."""
    global _DISCOVERED
    if not _DISCOVERED:
        import rnnlab.tasks as package

        for module in pkgutil.iter_modules(package.__path__, prefix="rnnlab.tasks."):
            importlib.import_module(module.name)
        for entry in metadata.entry_points(group="rnnlab.tasks"):
            entry.load()
        _DISCOVERED = True
    return dict(sorted(_TASKS.items()))


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
    return [name for name, task in discover_tasks().items() if verb in task.verbs]


# ----------------------------------------------------------------------------------------- model dirs
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


def open_model(path: str | Path, verb: str) -> Any:
    """Load the model in `path` for the prediction verb `verb`, refusing a model that does not offer it."""
    task = task_of_model(path)
    if verb not in task.verbs:
        offering = tasks_offering(verb)
        raise UserError(
            f"{path}: a {task.name!r} model; `rnnlab {verb}` needs a model of task "
            f"{' or '.join(repr(name) for name in offering) or '(none)'}"
        )
    return task.load(resolve_model_dir(path))


# ---------------------------------------------------------------------------------------------- configs
def yaml_task_name(path: str | Path) -> str:
    """The `task:` a YAML config names, with one-line errors for a file without one."""
    from rnnlab.config import read_yaml

    name = read_yaml(path).get("task")
    if name is None:
        raise ConfigError(f"{path}: no `task:` key; expected one of {', '.join(discover_tasks())} at the top")
    if not isinstance(name, str):
        raise ConfigError(f"{path}: `task:` must be a task name, got {name!r}")
    return name


def load_task_config(task: str | None, config_path: str | Path | None, overrides: list[str]) -> tuple[TaskDescriptor, Any]:
    """The task and its config from `rnnlab train [TASK] [--config FILE] [overrides]`.

    The YAML's `task:` names its task; given a task name too, the two must agree (a tagger config given to
    `rnnlab train lm` is a mistake, not something to half-apply).
    """
    from rnnlab.config import load_config

    if config_path is not None:
        named = yaml_task_name(config_path)
        if task is not None and named != task:
            raise ConfigError(f"{config_path} is a config for task {named!r}, not {task!r}")
        task = named
    if task is None:
        raise ConfigError("expected a task name or a YAML config with `task:`")
    descriptor = get_task(task, where=str(config_path) if config_path else "")
    return descriptor, load_config(descriptor.config_class, config_path, overrides)

"""Which code handles a saved model directory, by the `task` field of its `config.json`.

`rnnlab eval / generate / score` open any model directory through `load_task_module(path)`; each task
module listed here offers the functions the commands need (see `rnnlab.commands.models`).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType

from rnnlab.errors import CheckpointError

# task name in config.json -> module implementing `evaluate(path, args)`, and for language models
# `load_language_model(path) -> rnnlab.lm.interface.LanguageModel`.
TASK_MODULES: dict[str, str] = {
    "lm": "rnnlab.tasks.language_model",
    "ngram": "rnnlab.tasks.ngram",
    "tagger": "rnnlab.tasks.tagging",
    "classifier": "rnnlab.tasks.classification",
    "cloze": "rnnlab.tasks.cloze",
    "translate": "rnnlab.tasks.translation",
}


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
    """The `task` recorded in a model directory's config.json, with a clear error if absent."""
    config_file = resolve_model_dir(path) / "config.json"
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{config_file}: not valid JSON ({error})") from None
    task = config.get("task") if isinstance(config, dict) else None
    if task not in TASK_MODULES:
        raise CheckpointError(
            f"{config_file}: unknown task {task!r}; expected one of {sorted(TASK_MODULES)}"
        )
    return task


def load_task_module(path: str | Path) -> ModuleType:
    return importlib.import_module(TASK_MODULES[read_task_name(path)])

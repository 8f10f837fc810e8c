"""The models a server offers: loaded once at start, from the paths given on the command line only.

A served model has a URL-safe name (its directory's name; `lm`, `lm-2`, ... when two share one), its task
(`rnnlab.tasks.registry`), the loaded object its verbs run on, and a short JSON summary of its config for
`GET /models` (the `model` section: sizes and cell types, never the data paths it was trained from).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnlab.tasks.registry import TaskDescriptor
from rnnlab.verbs import Verb


@dataclass
class ServedModel:
    name: str  # the {name} of /models/{name}/{verb}
    path: Path  # the model directory (a run's best/)
    task: TaskDescriptor
    model: Any  # what the task's verbs run on
    summary: dict[str, Any]

    @property
    def verbs(self) -> dict[str, Verb]:
        return {verb.name: verb for verb in self.task.verbs}


def check_model_paths(paths: list[str]) -> list[tuple[Path, TaskDescriptor]]:
    """Each path's model directory and task, checked before anything is loaded (one-line errors)."""
    from rnnlab.tasks.registry import resolve_model_dir, task_of_model

    return [(resolve_model_dir(path), task_of_model(path)) for path in paths]


def load_models(paths: list[str]) -> dict[str, ServedModel]:
    """name -> ServedModel for every path (a model directory, or a run directory: its best/)."""
    checked = check_model_paths(paths)
    served: dict[str, ServedModel] = {}
    for given, (directory, task) in zip(paths, checked):
        name = unique_name(model_name(given), served)
        served[name] = ServedModel(name, directory, task, task.load(directory), config_summary(directory))
    return served


def model_name(path: str) -> str:
    """`runs/lm-tang/` -> `lm-tang`: the directory's own name, made URL-safe."""
    name = Path(path).resolve().name
    if name in ("best", "last"):  # a run's checkpoint given directly: the run's name says more
        name = Path(path).resolve().parent.name
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "model"


def unique_name(name: str, taken: dict) -> str:
    if name not in taken:
        return name
    number = 2
    while f"{name}-{number}" in taken:
        number += 1
    return f"{name}-{number}"


def config_summary(directory: Path) -> dict[str, Any]:
    """The task, the top-level scalar settings and the `model` section of a model's config.json (short
    values only, and nothing that names a file: no corpus, path or directory)."""
    try:
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(config, dict):
        return {}
    summary = _scalars(config)
    nested = config.get("config") if isinstance(config.get("config"), dict) else {}
    section = config.get("model", nested.get("model"))
    if isinstance(section, dict):
        summary["model"] = _scalars(section, depth=1)
    return summary


_FILE_WORDS = ("corpus", "path", "file", "dir", "data", "primer")


def _scalars(section: dict, depth: int = 0) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for key, value in section.items():
        if any(word in key.lower() for word in _FILE_WORDS):
            continue
        if isinstance(value, (int, float, bool)) or (isinstance(value, str) and len(value) <= 40 and "/" not in value):
            kept[key] = value
        elif isinstance(value, dict) and depth == 1:
            kept[key] = _scalars(value, depth + 1)
    return kept

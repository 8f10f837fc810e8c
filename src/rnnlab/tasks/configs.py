"""A task's YAML config: which task a file is for (`task:`, its first key), and the task's config read from
it with command-line overrides.

    descriptor, config = load_task_config(None, "configs/regression/freesolv.yaml", ["--batch_size", "64"])
    yaml_task_name("configs/lm/ptb-small.yaml")        # "lm"

`rnnlab train` and the shipped-config test read configs through these two functions; the config classes
and the generic loading (types, unknown keys, overrides) are `rnnlab.config`'s, the tasks are
`rnnlab.tasks.registry`'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rnnlab.config import load_config, read_yaml
from rnnlab.errors import ConfigError
from rnnlab.tasks.registry import TaskDescriptor, discover_tasks, get_task

__all__ = ["load_task_config", "yaml_task_name"]


def yaml_task_name(path: str | Path) -> str:
    """The `task:` a YAML config names, with one-line errors for a file without one."""
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
    if config_path is not None:
        named = yaml_task_name(config_path)
        if task is not None and named != task:
            raise ConfigError(f"{config_path} is a config for task {named!r}, not {task!r}")
        task = named
    if task is None:
        raise ConfigError("expected a task name or a YAML config with `task:`")
    descriptor = get_task(task, where=str(config_path) if config_path else "")
    return descriptor, load_config(descriptor.config_class, config_path, overrides)

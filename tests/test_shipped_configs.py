"""Every YAML file under configs/ names its task and loads into that task's config class."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnlab.tasks.configs import load_task_config, yaml_task_name
from rnnlab.tasks.registry import discover_tasks

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def test_every_config_folder_belongs_to_a_task() -> None:
    folders = {path.name for path in CONFIGS.iterdir() if path.is_dir()}
    task_folders = {task.folder for task in discover_tasks().values()}
    assert folders <= task_folders, f"no task for configs/{sorted(folders - task_folders)}"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*/*.yaml")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_config_loads(path: Path) -> None:
    task = discover_tasks()[yaml_task_name(path)]
    assert task.folder == path.parent.name, f"{path}: a {task.name} config outside configs/{task.folder}/"
    _, config = load_task_config(None, path, [])
    assert isinstance(config, task.config_class)
    assert config.output_dir.startswith("runs/")

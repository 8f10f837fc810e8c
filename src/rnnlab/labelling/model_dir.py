"""Reading and writing the files of a saved labelling model directory (config.json + vocab.json + weights)."""

from __future__ import annotations

import json
from pathlib import Path

from rnnlab.errors import CheckpointError

__all__ = ["dump_json", "read_json_file", "read_model_dir"]


def read_model_dir(path: str | Path, task: str):
    """Load a saved model directory of `task` (a run directory: its best/); `rnnlab.train.load_model_dir`."""
    from rnnlab.train.checkpoint import load_model_dir

    return load_model_dir(path, task)


def read_json_file(checkpoint, name: str) -> dict:
    """The JSON object `name` of a loaded checkpoint; CheckpointError if it is not an object."""
    data = checkpoint.read_json(name)
    if not isinstance(data, dict):
        raise CheckpointError(f"{checkpoint.path / name}: expected a JSON object")
    return data


def dump_json(data) -> str:
    """The text of a checkpoint's JSON file (UTF-8 kept readable)."""
    return json.dumps(data, ensure_ascii=False, indent=1)

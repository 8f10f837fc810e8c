"""Reading and writing the files of a saved labelling model directory (config.json + vocab.json + weights)."""

from __future__ import annotations

import json

from rnnlab.errors import CheckpointError

__all__ = ["dump_json", "read_json_file"]


def read_json_file(checkpoint, name: str) -> dict:
    """The JSON object `name` of a loaded checkpoint; CheckpointError if it is not an object."""
    data = checkpoint.read_json(name)
    if not isinstance(data, dict):
        raise CheckpointError(f"{checkpoint.path / name}: expected a JSON object")
    return data


def dump_json(data) -> str:
    """The text of a checkpoint's JSON file (UTF-8 kept readable)."""
    return json.dumps(data, ensure_ascii=False, indent=1)

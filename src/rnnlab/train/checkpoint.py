"""Checkpoints: a directory that can be inspected by hand and can never run code when loaded.

Layout of a checkpoint directory::

    config.json                  what the task needs to rebuild the model; has a "task" field
    model.safetensors            model weights (tied weights stored once, aliases in the metadata)
    vocab.json, ...              extra files the task passes (vocabulary, tokenizer model, ...)
    trainer_state/state.json     optimizer/scheduler state, RNG states, data position, step, ... as JSON
    trainer_state/tensors.safetensors   every tensor of that state (referenced from state.json)
    manifest.json                sha256 and size of every file above, checked on load

Saving is atomic: everything is written to a temporary directory next to the target, fsynced, then
renamed over the target; the previous checkpoint is kept (renamed aside) until that rename succeeded, and
restored by the next save/load if the process died in between. Loading uses only `json` and `safetensors`,
so a tampered checkpoint cannot execute code; it raises `CheckpointError` naming the bad file.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import save_file

from rnnlab.errors import CheckpointError
from rnnlab.files import sha256_of

__all__ = [
    "Checkpoint",
    "file_bytes",
    "save_checkpoint",
    "load_checkpoint",
    "load_model_weights",
    "verify_checkpoint",
    "write_manifest",
    "save_directory_atomically",
    "CONFIG_FILE",
    "MODEL_FILE",
    "MANIFEST_FILE",
    "TRAINER_STATE_DIR",
]

CONFIG_FILE = "config.json"
MODEL_FILE = "model.safetensors"
MANIFEST_FILE = "manifest.json"
TRAINER_STATE_DIR = "trainer_state"
_STATE_JSON = f"{TRAINER_STATE_DIR}/state.json"
_STATE_TENSORS = f"{TRAINER_STATE_DIR}/tensors.safetensors"
_RESERVED = {CONFIG_FILE, MODEL_FILE, MANIFEST_FILE, TRAINER_STATE_DIR}
_FORMAT = "rnnlab-checkpoint"
_VERSION = 1
_ALIASES_KEY = "rnnlab_aliases"  # safetensors metadata: JSON {alias_name: stored_name} for tied weights
_ORDER_KEY = "rnnlab_order"  # safetensors metadata: JSON list of the state_dict's names in model order


@dataclass
class Checkpoint:
    """A loaded checkpoint directory.

    `state_dict` maps parameter names to tensors (on `map_location`), tied names included; `trainer_state`
    is the nested dict passed to `save_checkpoint` (tensors, tuples and int dict keys restored) or None.
    """

    path: Path
    config: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    trainer_state: dict[str, Any] | None = None
    files: list[str] = field(default_factory=list)  # extra files, relative paths

    @property
    def task(self) -> str:
        return self.config["task"]

    def file_path(self, name: str) -> Path:
        """Path of an extra file (e.g. to hand a tokenizer model to a library that wants a path)."""
        if name not in self.files:
            raise CheckpointError(f"{self.path}: no file {name!r} in this checkpoint; it has {self.files}")
        return self.path / name

    def read_bytes(self, name: str) -> bytes:
        return self.file_path(name).read_bytes()

    def read_text(self, name: str) -> str:
        return self.read_bytes(name).decode("utf-8")

    def read_json(self, name: str) -> Any:
        try:
            return json.loads(self.read_text(name))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise CheckpointError(f"{self.path / name}: not valid JSON ({error})") from None


# ----------------------------------------------------------------------------------------------- save
def file_bytes(content: bytes | str) -> bytes:
    """A checkpoint file's content as written: str as UTF-8, bytes as they are."""
    return content.encode("utf-8") if isinstance(content, str) else bytes(content)


def save_checkpoint(
    directory: str | Path,
    *,
    config: Mapping[str, Any],
    model: torch.nn.Module | Mapping[str, torch.Tensor],
    extra_files: Mapping[str, bytes | str] | None = None,
    trainer_state: Mapping[str, Any] | None = None,
) -> Path:
    """Atomically write a checkpoint directory; returns its path.

    config: JSON-serialisable dict written to config.json; must contain "task".
    model: a module (its state_dict is saved) or a state_dict.
    extra_files: relative file name -> content (str is written as UTF-8).
    trainer_state: nested dict/list/tuple of tensors, numpy arrays, numbers, strings, None; dict keys may be
        str or int. Stored as JSON + safetensors under trainer_state/.
    """
    if not isinstance(config, Mapping) or "task" not in config:
        raise ValueError("save_checkpoint: config must be a dict with a 'task' field")

    def fill(tmp: Path) -> None:
        files: dict[str, bytes] = {CONFIG_FILE: _json_bytes(dict(config))}
        for name, content in (extra_files or {}).items():
            _check_extra_name(name)
            files[name] = file_bytes(content)
        for name, content in files.items():
            _write_file(tmp / name, content)

        state_dict = model.state_dict() if isinstance(model, torch.nn.Module) else dict(model)
        tensors, aliases = _dedupe_tensors(state_dict)
        metadata = {_ALIASES_KEY: json.dumps(aliases), _ORDER_KEY: json.dumps(list(state_dict))}
        save_file(tensors, str(tmp / MODEL_FILE), metadata=metadata)
        mode = _file_mode()  # safetensors creates its files 0600; give them the mode of the other files
        os.chmod(tmp / MODEL_FILE, mode)

        if trainer_state is not None:
            (tmp / TRAINER_STATE_DIR).mkdir()
            state_tensors: dict[str, torch.Tensor] = {}
            encoded = _encode(trainer_state, state_tensors, "trainer_state")
            _write_file(tmp / _STATE_JSON, _json_bytes(encoded))
            save_file(state_tensors, str(tmp / _STATE_TENSORS))
            os.chmod(tmp / _STATE_TENSORS, mode)
            _fsync_dir(tmp / TRAINER_STATE_DIR)

    return save_directory_atomically(directory, fill)


def write_manifest(directory: str | Path) -> Path:
    """Write `directory`/manifest.json: size and sha256 of every other file under it (checked on load)."""
    directory = Path(directory)
    files = {name: entry for name, entry in _hash_tree(directory).items() if name != MANIFEST_FILE}
    _write_file(directory / MANIFEST_FILE, _json_bytes({"format": _FORMAT, "version": _VERSION, "files": files}))
    return directory / MANIFEST_FILE


def save_directory_atomically(directory: str | Path, fill: Callable[[Path], None]) -> Path:
    """Write a model directory atomically (checkpoints and n-gram models alike).

    `fill(tmp)` writes the files into a temporary directory next to `directory`; then a manifest is added,
    everything is fsynced and the directory renamed over `directory` (the old one kept aside until then).
    """
    target = Path(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    _recover(target)
    for stale in target.parent.glob(f".{target.name}.tmp-*"):  # left by a save that was killed
        shutil.rmtree(stale, ignore_errors=True)
    tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        fill(tmp)
        for file in (p for p in tmp.rglob("*") if p.is_file()):
            _fsync_file(file)
        write_manifest(tmp)
        _fsync_dir(tmp)
        _replace_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _replace_dir(tmp: Path, target: Path) -> None:
    """Rename `tmp` over `target`, keeping the old target aside until the rename succeeded."""
    backup = target.parent / f".{target.name}.old"
    if backup.exists():  # an older backup whose target is intact (see _recover): not needed any more
        shutil.rmtree(backup)
    if target.exists():
        os.rename(target, backup)
    try:
        os.rename(tmp, target)
    except BaseException:
        if backup.exists() and not target.exists():
            os.rename(backup, target)
        raise
    _fsync_dir(target.parent)
    shutil.rmtree(backup, ignore_errors=True)


def _recover(target: Path) -> None:
    """If a save died between its two renames, put the previous checkpoint back."""
    backup = target.parent / f".{target.name}.old"
    if backup.exists() and not target.exists():
        os.rename(backup, target)


def _check_extra_name(name: str) -> None:
    parts = PurePosixPath(name).parts
    if not parts or name.startswith("/") or ".." in parts or "\\" in name:
        raise ValueError(f"save_checkpoint: extra file name {name!r} must be a relative path inside the checkpoint")
    if parts[0] in _RESERVED:
        raise ValueError(f"save_checkpoint: extra file name {name!r} clashes with a reserved name {sorted(_RESERVED)}")


def _dedupe_tensors(state_dict: Mapping[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Store tied (identical-view) tensors once; clone other storage-sharing tensors (safetensors refuses them)."""
    tensors: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    seen_views: dict[tuple, str] = {}
    seen_storages: set[tuple] = set()
    for name, tensor in state_dict.items():
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"save_checkpoint: state_dict entry {name!r} is a {type(tensor).__name__}, not a tensor")
        tensor = tensor.detach()
        if tensor.device.type != "meta" and tensor.numel() > 0:
            storage = (tensor.device.type, tensor.device.index, tensor.untyped_storage().data_ptr())
            view = (*storage, tensor.storage_offset(), tuple(tensor.shape), tuple(tensor.stride()), tensor.dtype)
            if view in seen_views:
                aliases[name] = seen_views[view]
                continue
            seen_views[view] = name
            if storage in seen_storages:
                tensor = tensor.clone()
            seen_storages.add(storage)
        tensors[name] = tensor.to("cpu").contiguous()
    # a clone/`.to` may still share memory if the tensor was already a contiguous CPU tensor: fine, views differ
    return tensors, aliases


# ------------------------------------------------------------------------------------------------ load
def load_checkpoint(directory: str | Path, *, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Verify and load a checkpoint directory (weights on `map_location`); raises CheckpointError if bad."""
    path = Path(directory)
    if not path.exists():
        _recover(path)
    manifest = verify_checkpoint(path)
    device = str(map_location)
    try:
        config = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path / CONFIG_FILE}: not valid JSON ({error})") from None
    if not isinstance(config, dict) or "task" not in config:
        raise CheckpointError(f"{path / CONFIG_FILE}: expected a JSON object with a 'task' field")

    state_dict, metadata = _load_safetensors(path / MODEL_FILE, device)
    try:
        aliases = json.loads(metadata.get(_ALIASES_KEY, "{}"))
        order = json.loads(metadata.get(_ORDER_KEY, "[]"))
    except json.JSONDecodeError:
        raise CheckpointError(f"{path / MODEL_FILE}: malformed rnnlab metadata") from None
    for alias, stored in aliases.items():
        if stored not in state_dict:
            raise CheckpointError(f"{path / MODEL_FILE}: tied weight {alias!r} refers to missing {stored!r}")
        state_dict[alias] = state_dict[stored]
    if sorted(order) == sorted(state_dict):  # safetensors sorts names; give them back in the model's order
        state_dict = {name: state_dict[name] for name in order}

    trainer_state = None
    if _STATE_JSON in manifest:
        tensors, _ = _load_safetensors(path / _STATE_TENSORS, device)
        try:
            encoded = json.loads((path / _STATE_JSON).read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise CheckpointError(f"{path / _STATE_JSON}: not valid JSON ({error})") from None
        trainer_state = _decode(encoded, tensors, path / _STATE_JSON)

    extra = sorted(name for name in manifest if name.split("/")[0] not in _RESERVED)
    return Checkpoint(path=path, config=config, state_dict=state_dict, trainer_state=trainer_state, files=extra)


def load_model_dir(path: str | Path, task: str, *, map_location: str | torch.device = "cpu") -> Checkpoint:
    """The checkpoint a task's `load` reads: a model directory, or a run directory (its best/, else last/),
    verified, and refused with one line if another task wrote it. Every task loads through here."""
    from rnnlab.paths import resolve_model_dir

    checkpoint = load_checkpoint(resolve_model_dir(path), map_location=map_location)
    if checkpoint.task != task:
        raise CheckpointError(f"{checkpoint.path}: a {checkpoint.task!r} model, not a {task!r} model")
    return checkpoint


def verify_checkpoint(
    directory: str | Path, required: tuple[str, ...] = (CONFIG_FILE, MODEL_FILE)
) -> dict[str, dict[str, Any]]:
    """Check every file listed in manifest.json against its size and sha256; returns the file table.

    required: files the manifest must list (a neural checkpoint's by default; an n-gram model passes its own).
    """
    path = Path(directory)
    if not path.is_dir():
        raise CheckpointError(f"{path}: expected a checkpoint directory, found none")
    manifest_path = path / MANIFEST_FILE
    if not manifest_path.is_file():
        raise CheckpointError(f"{manifest_path}: missing; not an rnnlab checkpoint (or its save was interrupted)")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files = manifest["files"]
        if manifest.get("format") != _FORMAT or not isinstance(files, dict):
            raise ValueError("wrong format")
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError):
        raise CheckpointError(f"{manifest_path}: not a valid rnnlab checkpoint manifest") from None
    for name in required:
        if name not in files:
            raise CheckpointError(f"{manifest_path}: does not list {name}")
    for name, entry in files.items():
        file = path / name
        if ".." in PurePosixPath(name).parts or PurePosixPath(name).is_absolute():
            raise CheckpointError(f"{manifest_path}: lists a path outside the checkpoint: {name!r}")
        if not file.is_file():
            raise CheckpointError(f"{file}: missing from checkpoint (listed in manifest.json)")
        size = file.stat().st_size
        if size != entry.get("size"):
            raise CheckpointError(
                f"{file}: truncated or modified: {size} bytes, manifest.json says {entry.get('size')}"
            )
        if sha256_of(file) != entry.get("sha256"):
            raise CheckpointError(f"{file}: sha256 does not match manifest.json; the file was modified or corrupted")
    return files


def load_model_weights(
    model: torch.nn.Module, checkpoint: Checkpoint | Mapping[str, torch.Tensor], *, strict: bool = True,
    allow_missing: bool = False,
) -> list[str]:
    """Copy checkpoint weights into `model`; raises CheckpointError naming missing/unexpected/mismatched keys.
    allow_missing: weights of `model` the checkpoint lacks (a part added since) keep their initial values.
    Returns the keys of `model` the checkpoint lacked."""
    state_dict = checkpoint.state_dict if isinstance(checkpoint, Checkpoint) else checkpoint
    where = str(checkpoint.path) if isinstance(checkpoint, Checkpoint) else "state_dict"
    expected = model.state_dict()
    missing = [key for key in expected if key not in state_dict]
    unexpected = [key for key in state_dict if key not in expected]
    if strict and ((missing and not allow_missing) or unexpected):
        parts = []
        if missing and not allow_missing:
            parts.append(f"missing keys {_few(missing)}")
        if unexpected:
            parts.append(f"unexpected keys {_few(unexpected)}")
        raise CheckpointError(f"{where}: weights do not fit the model: " + "; ".join(parts))
    for key, tensor in state_dict.items():
        if key in expected and tuple(expected[key].shape) != tuple(tensor.shape):
            raise CheckpointError(
                f"{where}: weight {key!r} has shape {tuple(tensor.shape)}, the model expects {tuple(expected[key].shape)}"
            )
    model.load_state_dict(dict(state_dict), strict=strict and not missing)
    return missing


def _few(keys: list[str], limit: int = 6) -> str:
    shown = ", ".join(repr(key) for key in keys[:limit])
    return f"[{shown}{', ...' if len(keys) > limit else ''}] ({len(keys)})"


def _load_safetensors(file: Path, device: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import safe_open

    try:
        with safe_open(str(file), framework="pt", device=device) as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"{file}: cannot read safetensors file ({error})") from None
    return tensors, metadata


# --------------------------------------------------------------------- trainer state: JSON + tensors
def _encode(value: Any, tensors: dict[str, torch.Tensor], where: str) -> Any:
    """Nested Python/torch/numpy value -> JSON-able value; tensors go to `tensors` under a generated key."""
    if isinstance(value, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = value.detach().to("cpu").contiguous().clone()
        return {"__tensor__": key}
    if isinstance(value, np.ndarray):
        return {"__ndarray__": value.tolist(), "dtype": str(value.dtype), "shape": list(value.shape)}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return {"__float__": repr(value)}  # inf / nan: JSON has no literal for them
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, tensors, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_encode(v, tensors, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        if all(isinstance(k, str) for k in value) and not any(k.startswith("__") and k.endswith("__") for k in value):
            return {k: _encode(v, tensors, f"{where}.{k}") for k, v in value.items()}
        items = []
        for k, v in value.items():
            if not isinstance(k, (str, int, float, bool)) and k is not None:
                raise TypeError(f"save_checkpoint: {where} has a dict key of type {type(k).__name__}")
            items.append([k, _encode(v, tensors, f"{where}[{k!r}]")])
        return {"__dict__": items}
    raise TypeError(
        f"save_checkpoint: {where} is a {type(value).__name__}; trainer_state may hold only tensors, numpy arrays, "
        "numbers, strings, None, lists, tuples and dicts"
    )


def _decode(value: Any, tensors: dict[str, torch.Tensor], file: Path) -> Any:
    if isinstance(value, list):
        return [_decode(v, tensors, file) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tensor__" in value:
        key = value["__tensor__"]
        if key not in tensors:
            raise CheckpointError(f"{file}: refers to tensor {key!r} missing from {_STATE_TENSORS}")
        return tensors[key]
    if "__ndarray__" in value:
        return np.asarray(value["__ndarray__"], dtype=np.dtype(value["dtype"])).reshape(value["shape"])
    if "__float__" in value:
        return float(value["__float__"])
    if "__tuple__" in value:
        return tuple(_decode(v, tensors, file) for v in value["__tuple__"])
    if "__dict__" in value:
        return {k: _decode(v, tensors, file) for k, v in value["__dict__"]}
    return {k: _decode(v, tensors, file) for k, v in value.items()}


# ------------------------------------------------------------------------------------------ file I/O
def _json_bytes(data: Any) -> bytes:
    try:
        return (json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
    except (TypeError, ValueError) as error:
        raise ValueError(f"save_checkpoint: value is not JSON-serialisable ({error})") from None


def _write_file(file: Path, content: bytes) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    with open(file, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def _file_mode() -> int:
    """The mode `open()` gives a new file: 0o666 less the process umask (read, not changed)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_file(file: Path) -> None:
    with open(file, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open directories; rename durability is best effort there
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _hash_tree(root: Path) -> dict[str, dict[str, Any]]:
    table = {}
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        name = file.relative_to(root).as_posix()
        table[name] = {"sha256": sha256_of(file), "size": file.stat().st_size}
    return table

"""What the command line shows before it imports any task: a cached index of tasks and their verbs.

Listing the tasks means importing them, and importing them means importing torch (about 2 s here);
`rnnlab --help` and `rnnlab VERB --help` need only names, one-line helps and each verb's options. So the
first command after an install (or after any change to rnnlab's or a plugin's files) describes every
registered task into a small JSON file under the user's cache directory, and later commands read it. The
file's name carries a fingerprint of what it was made from: the size and modification time of every file
of the rnnlab package and of each plugin's module, and the plugins' names and versions. A stale index is
never read; an unwritable cache directory only means the index is rebuilt each time.

A task registered outside discovery (a test, a notebook) makes `command_index` describe the live registry
instead, so it shows up at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

INDEX_VERSION = 1
_READ: dict[str, Any] | None = None  # the cached index, once read in this process


def cache_directory() -> Path:
    """$RNNLAB_INDEX_CACHE, else $XDG_CACHE_HOME/rnnlab, else ~/.cache/rnnlab."""
    explicit = os.environ.get("RNNLAB_INDEX_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rnnlab"


def describe_registry() -> dict[str, Any]:
    """The index of the live registry (imports every task)."""
    from rnnlab.tasks.registry import discover_tasks, plugin_warnings

    tasks = discover_tasks()
    verbs: dict[str, dict] = {}
    for name, task in tasks.items():
        for verb in task.verbs:
            entry = verbs.setdefault(verb.name, {**verb.describe(), "tasks": []})
            entry["tasks"].append(name)
    return {
        "version": INDEX_VERSION,
        "tasks": {name: {"summary": task.summary, "presets": task.presets_hint, "docs": task.docs,
                         "verbs": [verb.name for verb in task.verbs]}
                  for name, task in tasks.items()},  # fmt: skip
        "verbs": dict(sorted(verbs.items())),
        "warnings": plugin_warnings(),
    }


def _fingerprint() -> str:
    """A digest of everything the index is made from (cheap: stat calls, no imports)."""
    import rnnlab

    digest = hashlib.sha256(f"{INDEX_VERSION} {sys.version} {rnnlab.__file__}".encode())
    package = Path(rnnlab.__file__).parent
    for path in sorted(package.rglob("*.py")):
        stat = path.stat()
        digest.update(f"{path.relative_to(package)} {stat.st_mtime_ns} {stat.st_size}\n".encode())
    for entry in sorted(metadata.entry_points(group="rnnlab.tasks"), key=lambda e: (e.name, e.value)):
        dist = entry.dist
        digest.update(f"{entry.name}={entry.value} {dist.name if dist else ''} {dist.version if dist else ''}\n".encode())
        digest.update(_module_stamp(entry.value.split(":")[0]).encode())
    return digest.hexdigest()[:20]


def _module_stamp(module: str) -> str:
    """Size and mtime of a plugin's module file, found without importing it (its top-level package only)."""
    from importlib.util import find_spec

    top = module.split(".")[0]
    try:
        spec = find_spec(top)
    except (ImportError, ValueError):
        return f"{module} missing\n"
    origin = getattr(spec, "origin", None) if spec is not None else None
    locations = list(getattr(spec, "submodule_search_locations", None) or [])
    paths = [Path(origin)] if origin and origin not in ("built-in", "frozen") else []
    for location in locations:
        paths += sorted(Path(location).rglob("*.py"))
    stamps = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            continue
        stamps.append(f"{path} {stat.st_mtime_ns} {stat.st_size}")
    return "\n".join(stamps) + "\n"


def command_index() -> dict[str, Any]:
    """The tasks and verbs the command line lists: from the cache if it is current, else described anew."""
    from rnnlab.tasks import registry

    global _READ
    if registry.is_live():
        return describe_registry()
    if _READ is not None:  # read once per process (its warnings printed once)
        return _READ
    try:
        fingerprint = _fingerprint()
    except OSError:
        return describe_registry()
    directory = cache_directory()
    path = directory / f"cli-index-{fingerprint}.json"
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
        if index.get("version") == INDEX_VERSION:
            for warning in index.get("warnings", []):
                registry.warn_once(warning)
            _READ = index
            return index
    except (OSError, ValueError):
        pass
    index = describe_registry()
    _write(directory, path, index)
    return index


def _write(directory: Path, path: Path, index: dict[str, Any]) -> None:
    """Write the index atomically; drop older ones. A cache that cannot be written is not an error."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=".cli-index-")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(index, out, ensure_ascii=False, default=str)
        os.replace(temporary, path)
        for old in directory.glob("cli-index-*.json"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        pass

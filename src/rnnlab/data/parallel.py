"""Parallel text (sentence pairs) for translation: the built-in German→English and English→Chinese pairs
and users' own files.

Built-in pairs
- "de-en": the Ding dictionary of Debian's `trans-de-en` (1.9-6, GPL-2+), fetched with `apt-get download`
  and checked by sha256. Lines are `DE :: EN`; each side has sub-entries separated by ` | ` that align one
  to one; within a sub-entry `; ` separates synonyms (the first is kept) and `{...}`, `[...]`, `<...>` are
  grammar/usage annotations (removed). Example sentences are the sub-entries that read as sentences on
  both sides (start with a capital, end in . ? or !, at least three words): about 19.4k pairs after
  deduplication. `include_phrases=True` also adds the shorter phrase pairs.
- "en-zh": the English→Chinese (zh_CN) message catalogues (`.mo`) of the Debian packages installed on this
  machine, read with Python's `gettext`; menu accelerators (`_`, `&`) are removed, entries with format
  directives or fewer than 4 words are dropped. Its size depends on the installed packages.

Both are normalised (Unicode NFC, whitespace collapsed), deduplicated on the source side (first target
kept, so a source never appears in two splits or with two references), and split 90/5/5 into
train/valid/test by the sha256 of the source (`rnnlab.data.splits.split_of`): stable across machines and
runs. Both are entries of kind "parallel" in the dataset registry (rnnlab.data.registry, registered at the
bottom of this module); parsed pairs are cached as TSV under `cache_root()/<name>/` (de-en also keeps
the pairs with phrases, in `phrases/`).

User files: `read_parallel("train.tsv")` (one `source<TAB>target` per line) or
`read_parallel("train.de,train.en")` (two files, one sentence per line, same line count). Empty sides,
missing tabs and mismatched line counts raise `DataError` naming the file and line.
"""

from __future__ import annotations

import gettext
import re
import struct
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rnnlab.data import registry
from rnnlab.data.registry import SPLITS, DatasetEntry, Source, register_dataset
from rnnlab.data.splits import split_of
from rnnlab.errors import DataError

__all__ = [
    "Pair",
    "ParallelData",
    "builtin_pairs",
    "is_builtin",
    "normalise",
    "parse_ding",
    "read_mo_catalogues",
    "dedupe_and_split",
    "read_parallel",
    "load_builtin",
    "write_tsv",
]

Pair = tuple[str, str]

TRANS_DE_EN = ("trans-de-en", "1.9-6", "45f6b4cf1c434776fba6811d7bc522efabb5425c43ba8afd0e289bf9e2e53df4")
TRANS_DE_EN_FILE = "usr/share/trans/de-en"
LOCALE_DIR = Path("/usr/share/locale/zh_CN/LC_MESSAGES")


@dataclass
class ParallelData:
    """Sentence pairs per split ("train", "valid", "test") and where they came from."""

    splits: dict[str, list[Pair]]
    source: str

    def sizes(self) -> dict[str, int]:
        return {name: len(pairs) for name, pairs in self.splits.items()}


def normalise(text: str) -> str:
    """Unicode NFC and single spaces, stripped."""
    return " ".join(unicodedata.normalize("NFC", text).split())


# -------------------------------------------------------------------------------------------- Ding de-en

_ANNOTATION = re.compile(r"\s*(\{[^{}]*\}|\[[^\[\]]*\]|<[^<>]*>)")


def _clean_ding(text: str) -> str:
    return normalise(_ANNOTATION.sub("", text).split("; ")[0])


def _is_sentence(text: str) -> bool:
    return text[:1].isupper() and text[-1:] in ".?!" and len(text.split()) >= 3


def parse_ding(lines: Iterable[str], include_phrases: bool = False) -> list[Pair]:
    """Aligned (German, English) pairs from Ding `DE :: EN` lines, in file order (duplicates kept)."""
    pairs = []
    for line in lines:
        if line.startswith("#") or " :: " not in line:
            continue
        german, english = line.split(" :: ", 1)
        de_parts, en_parts = german.split(" | "), english.split(" | ")
        if len(de_parts) != len(en_parts):
            continue  # misaligned entry: skip rather than guess
        for de, en in zip(de_parts, en_parts):
            de, en = _clean_ding(de), _clean_ding(en)
            if not de or not en:
                continue
            if (_is_sentence(de) and _is_sentence(en)) or include_phrases:
                pairs.append((de, en))
    return pairs


def _fetch_ding_text(workdir: Path) -> str:
    from rnnlab.data.registries import deb_member, download_debian, verify_sha256

    name, version, sha = TRANS_DE_EN
    debs = sorted(workdir.glob(f"{name}_*.deb"))
    deb = debs[0] if debs else download_debian(name, version, workdir)
    verify_sha256(deb, sha)
    return deb_member(deb, TRANS_DE_EN_FILE).decode("utf-8")


# ------------------------------------------------------------------------------------------ gettext en-zh

_FORMAT = re.compile(r"%[-+ #0-9.*]*[a-zA-Z]|\{[^}]*\}|\\|<[^>]+>")


def read_mo_catalogues(directory: Path = LOCALE_DIR, min_words: int = 4) -> list[Pair]:
    """(English msgid, translated msgstr) pairs of every `.mo` file in `directory`, sorted by file name."""
    pairs = []
    for mo in sorted(directory.glob("*.mo")):
        try:
            with open(mo, "rb") as handle:
                catalog = gettext.GNUTranslations(handle)._catalog
        except (OSError, ValueError, struct.error):  # bad magic number, truncated, not UTF-8
            continue  # an unreadable catalogue: skip it
        for msgid, msgstr in catalog.items():
            if not isinstance(msgid, str) or not msgid or not msgstr:
                continue  # header entry or plural forms
            english, chinese = (normalise(t.replace("_", "").replace("&", "")) for t in (msgid, msgstr))
            if len(english.split()) < min_words or _FORMAT.search(english) or _FORMAT.search(chinese):
                continue
            if english == chinese:
                continue  # untranslated
            pairs.append((english, chinese))
    return pairs


# ------------------------------------------------------------------------------------------------ splits


def dedupe_and_split(pairs: Iterable[Pair]) -> dict[str, list[Pair]]:
    """Keep the first pair of each source; split 90/5/5 by the sha256 of the source."""
    seen: set[str] = set()
    splits: dict[str, list[Pair]] = {"train": [], "valid": [], "test": []}
    for src, tgt in pairs:
        if src in seen:
            continue
        seen.add(src)
        splits[split_of(src)].append((src, tgt))
    return splits


def write_tsv(path: Path, pairs: Iterable[Pair]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(f"{s}\t{t}\n" for s, t in pairs), encoding="utf-8")
    tmp.replace(path)


def _write_splits(directory: Path, pairs: Iterable[Pair]) -> dict[str, int]:
    splits = dedupe_and_split(pairs)
    for split, pairs_of_split in splits.items():
        write_tsv(directory / f"{split}.tsv", pairs_of_split)
    return {split: len(pairs_of_split) for split, pairs_of_split in splits.items()}


def _fetch_de_en(entry: DatasetEntry, out: Path, downloads: Path) -> tuple[str, dict[str, int]]:
    lines = _fetch_ding_text(downloads).splitlines()
    _write_splits(out / "phrases", parse_ding(lines, include_phrases=True))
    sizes = _write_splits(out, parse_ding(lines))
    return f"Ding sentences from Debian {TRANS_DE_EN[0]}={TRANS_DE_EN[1]} (phrases too, in phrases/)", sizes


def _fetch_en_zh(entry: DatasetEntry, out: Path, downloads: Path) -> tuple[str, dict[str, int]]:
    if not LOCALE_DIR.is_dir():
        raise DataError(f"{LOCALE_DIR}: no zh_CN message catalogues on this machine; install "
                        f"language packs or use your own parallel files")  # fmt: skip
    sizes = _write_splits(out, read_mo_catalogues())
    return f"{len(list(LOCALE_DIR.glob('*.mo')))} catalogues of {LOCALE_DIR}", sizes


def load_pairs(entry: DatasetEntry, directory: Path | None, include_phrases: bool = False) -> ParallelData:
    """The cached pairs of `entry` (with the phrase pairs, where the dataset has them, if asked)."""
    if include_phrases and (directory / "phrases").is_dir():
        directory = directory / "phrases"
    splits = {split: read_parallel(str(directory / f"{split}.tsv")) for split in SPLITS}
    return ParallelData(splits, entry.description)


def is_builtin(name: str) -> bool:
    """True if `name` is a registered parallel dataset."""
    return registry.is_registered(name) and registry.get_dataset(name).kind == "parallel"


def builtin_pairs() -> list[str]:
    """The names of the registered parallel datasets."""
    return [entry.name for entry in registry.list_datasets("parallel")]


def load_builtin(name: str, cache_dir: str | Path | None = None, include_phrases: bool = False) -> ParallelData:
    """The built-in pair `name` ("de-en" or "en-zh"), fetched and parsed on first use, then cached."""
    if not is_builtin(name):
        raise registry.UnknownDatasetError(
            f"unknown built-in language pair {name!r}; expected one of {builtin_pairs()} or parallel files"
            + registry.did_you_mean(name, builtin_pairs())
        )
    entry = registry.get_dataset(name)
    return load_pairs(entry, registry.fetch_dataset(name, cache_dir), include_phrases)


register_dataset(
    DatasetEntry(
        name="de-en",
        kind="parallel",
        description="German→English example sentences of the Ding dictionary (Debian trans-de-en 1.9-6, GPL-2+)",
        source=Source("debian", *TRANS_DE_EN, member=TRANS_DE_EN_FILE),
        licence="GPL-2+",
        fetch=_fetch_de_en,
        load=load_pairs,
        unit="pairs",
        sizes={"train": 17_309, "valid": 970, "test": 980},
    )
)
register_dataset(
    DatasetEntry(
        name="en-zh",
        kind="parallel",
        description="English→Chinese UI messages from the installed gettext catalogues (zh_CN .mo files)",
        source=Source("system", "zh_CN gettext catalogues", member=f"{LOCALE_DIR}/*.mo",
                      note="depends on the installed packages"),  # fmt: skip
        licence="the licences of the installed packages (mostly GPL)",
        fetch=_fetch_en_zh,
        load=load_pairs,
        unit="pairs",
    )
)


# -------------------------------------------------------------------------------------------- user files


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise DataError(f"{path}: parallel text file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        line = path.read_bytes()[: error.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not valid UTF-8 text") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def read_parallel(spec: str) -> list[Pair]:
    """Sentence pairs from "pairs.tsv" (source<TAB>target per line) or "src.txt,tgt.txt" (two files with
    one sentence per line). Every pair is normalised; errors name the file and line."""
    if "," in spec and not Path(spec).is_file():
        src_name, tgt_name = (part.strip() for part in spec.split(",", 1))
        src_path, tgt_path = Path(src_name), Path(tgt_name)
        src_lines, tgt_lines = _read_lines(src_path), _read_lines(tgt_path)
        for path, lines in ((src_path, src_lines), (tgt_path, tgt_lines)):
            if not lines:
                raise DataError(f"{path}: empty file; expected one sentence per line, as many as its other side")
        if len(src_lines) != len(tgt_lines):
            raise DataError(f"{src_path} has {len(src_lines)} lines but {tgt_path} has {len(tgt_lines)}; "
                            f"parallel files need one sentence per line on both sides")  # fmt: skip
        pairs = []
        for number, (src, tgt) in enumerate(zip(src_lines, tgt_lines), start=1):
            src, tgt = normalise(src), normalise(tgt)
            if not src:
                raise DataError(f"{src_path}:{number}: empty source sentence (its target is {tgt[:40]!r})")
            if not tgt:
                raise DataError(f"{tgt_path}:{number}: empty target sentence (its source is {src[:40]!r})")
            pairs.append((src, tgt))
        return pairs
    path = Path(spec)
    pairs = []
    for number, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue  # blank lines between pairs are harmless in a TSV
        fields = line.split("\t")
        if len(fields) != 2:
            raise DataError(f"{path}:{number}: expected 'source<TAB>target', found {len(fields) - 1} tabs")
        src, tgt = normalise(fields[0]), normalise(fields[1])
        if not src or not tgt:
            side = "source" if not src else "target"
            raise DataError(f"{path}:{number}: empty {side} sentence")
        pairs.append((src, tgt))
    if not pairs:
        raise DataError(f"{path}: no sentence pairs found")
    return pairs

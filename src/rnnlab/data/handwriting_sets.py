"""The built-in handwriting datasets (kind `strokes`): Chinese characters and Latin text lines as stroke-3.

    data = load_dataset("hanzi")         # HandwritingSet: data.sequences("train") -> [StrokeSequence, ...]
    data = load_dataset("hershey-lines")

`hanzi`: npm `hanzi-writer-data@2.0.1` (Arphic Public License; the stroke data of Make Me a Hanzi), one JSON
per character with its strokes in stroke order; the `medians` (each stroke's centre line, 2-20 points on a
1024 grid, y up) are used, flipped to y down, with segments longer than `HANZI_STEP` units split evenly so
the pen moves in steps of similar length. 9,574 characters, one writing each; split by character (80/10/10
from the sha256 of the character, `rnnlab.data.splits.split_of`).

`kanjivg`: PyPI `kanjivg==20260714` (Ulrich Apel's KanjiVG, CC-BY-SA 3.0), one SVG per character whose
`<path id="kvg:XXXXX-sN">` elements are its strokes in stroke order as Bézier centre lines on a 109-unit box
(y down); variant files (`XXXXX-Kaisho.svg`) are left out. Each path is sampled, scaled by 1024/109 into
hanzi's frame and resampled at even arc length (`KANJIVG_STEP` units, about the median pen step of the hanzi
medians), so the two sets can be trained together: 6,703 characters, of which 5,087 are also in `hanzi`,
written by a second hand (Japanese forms and stroke order where they differ). Split by character exactly as
`hanzi` (the same `split_of`), so `data.dataset: hanzi+kanjivg` keeps every character in one split.

`hershey-lines`: Debian `hershey-fonts-data=0.1-1.1` (Dr. A. V. Hershey's vector fonts in James Hurt's .jhf
format; single-stroke). Text lines of 1-3 words from `WORDS` are set in the faces of `FACES`, glyphs joined
by their advance widths (each glyph's left/right bearings), with a small random jitter per line, documented
here as the augmentation: slant (shear) in [-0.2, 0.2], scale in [0.9, 1.1], extra spacing of 0-2 units per
glyph, and Gaussian noise of 0.15 units on each point (a glyph is about 20 units high). Split by text
(sha256 of the line) and by face: every line set in `HELD_OUT_FACE` is in test only. Seeded, so a fetch
always makes the same lines.

Cache: `sequences.npz` (`rnnlab.data.strokes.write_stroke_npz` plus `splits` and `faces`) and `info.json`.
"""

from __future__ import annotations

import json
import random
import re
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab.data.registries import deb_member, download_debian, download_npm, download_pypi, verify_sha256
from rnnlab.data.registry import DatasetEntry, Source, register_dataset
from rnnlab.data.splits import split_of
from rnnlab.data.strokes import StrokeSequence, parse_svg_path, strokes_to_stroke3
from rnnlab.errors import DataError, FetchError

__all__ = ["FACES", "HandwritingSet", "kanjivg_strokes", "parse_jhf", "resample", "set_line"]

HANZI = ("hanzi-writer-data", "2.0.1", "72baf3d82b114e60d6e40ea05f24d2262a05cd39d544e2f322ba2fceb7beff15")
HERSHEY = ("hershey-fonts-data", "0.1-1.1", "c9ae50c441356f95a79234a025a8d572e4e0aa2ff233e7c5273b6fd41eb00360")
KANJIVG = ("kanjivg", "20260714", "5190e7ec4eb513dbe6865b2ed52c58287fc10ea514b9409e4cf66ce7db41644d")
HANZI_STEP = 64.0  # longest pen step of a hanzi median, in units of the 1024 grid
KANJIVG_STEP = 48.0  # pen step of a resampled KanjiVG stroke on the same grid (hanzi's median step is 50)
KANJIVG_SCALE = 1024.0 / 109.0  # KanjiVG's 109-unit box -> hanzi's 1024 grid
FACES = ("scripts", "scriptc", "cursive", "futural", "rowmans", "timesi")
HELD_OUT_FACE = "timesi"
HERSHEY_LINES = 6000  # lines generated (before dropping duplicates)
HERSHEY_SEED = 25
WORDS = tuple("""the of and to in is was he for it with as his on be at by had are but from or have an they which one
you were her all she there would their we him been has when who will more no if out so said what up its about into
than them can only other new some could time these two may then do first any my now such like our over man me even
most made after also did many before must through back years where much your way well down should because each just
those people how too little state good very make world still own see men work long get here between both life being
under never day same another know while last might us great old year off come since against go came right used take
three small large next early young word home water room hand place light night line river paper moon pen ink write
quick brown fox jumps lazy dog zero jazz vex""".split())  # fmt: skip


@dataclass
class HandwritingSet:
    """A parsed stroke dataset: every sequence with its split (and its face, for Hershey lines)."""

    items: list[StrokeSequence]
    splits: list[str]
    faces: list[str]

    def sequences(self, split: str) -> list[StrokeSequence]:
        return [item for item, s in zip(self.items, self.splits) if s == split]


# ----------------------------------------------------------------------------------------------- hanzi
def _densify(points: np.ndarray, step: float) -> np.ndarray:
    out = [points[0]]
    for a, b in zip(points[:-1], points[1:]):
        pieces = max(1, int(np.ceil(np.linalg.norm(b - a) / step)))
        out += [a + (b - a) * k / pieces for k in range(1, pieces + 1)]
    return np.array(out)


def hanzi_strokes(medians: list) -> np.ndarray:
    """hanzi-writer medians (strokes of [x, y] on the 1024 grid, y up) -> stroke-3, y down."""
    strokes = []
    for median in medians:
        points = np.array(median, dtype=np.float64).reshape(-1, 2)
        points[:, 1] = 900.0 - points[:, 1]  # hanzi-writer's frame: y up, baseline at -124
        strokes.append(_densify(points, HANZI_STEP))
    return strokes_to_stroke3(strokes)


def _fetch_hanzi(entry: DatasetEntry, out: Path, downloads: Path) -> tuple[str, dict[str, int]]:
    name, version, sha256 = HANZI
    tarball = downloads / f"{name}-{version}.tgz"
    if not tarball.exists():
        tarball = download_npm(name, version, downloads)
    verify_sha256(tarball, sha256)
    items = []
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive:
            stem = Path(member.name).stem
            if not member.isfile() or not member.name.endswith(".json") or len(stem) != 1:
                continue
            data = json.loads(archive.extractfile(member).read())
            items.append(StrokeSequence(stem, hanzi_strokes(data["medians"]), f"hanzi {stem}"))
    if len(items) < 100:
        raise FetchError(f"{name}@{version}: found {len(items)} character files; the package layout changed?")
    return _save_by_character(entry, out, items, f"{len(items):,} characters, stroke medians")


# --------------------------------------------------------------------------------------------- kanjivg
def resample(points: np.ndarray, step: float) -> np.ndarray:
    """A polyline (n, 2) -> points `step` apart along it (even arc length), its first and last point kept."""
    lengths = np.linalg.norm(np.diff(points, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(lengths)])
    if arc[-1] <= 0:
        return points[:1]
    at = np.linspace(0.0, arc[-1], max(2, int(np.ceil(arc[-1] / step)) + 1))
    return np.stack([np.interp(at, arc, points[:, 0]), np.interp(at, arc, points[:, 1])], axis=1)


_KVG_STROKE = re.compile(r'<path\b[^>]*\bid="kvg:[0-9a-f]+-s(\d+)"[^>]*\bd="([^"]*)"', re.S)


def kanjivg_strokes(svg: str, where: str) -> np.ndarray:
    """A KanjiVG SVG -> stroke-3 on hanzi's 1024 grid (y down), strokes in their `-sN` order."""
    strokes = sorted((int(number), d) for number, d in _KVG_STROKE.findall(svg))
    if not strokes:
        raise DataError(f"{where}: no <path id=\"kvg:XXXXX-sN\" d=...> strokes; expected a KanjiVG character")
    polylines = []
    for _, d in strokes:
        points = np.concatenate(parse_svg_path(d, where)) * KANJIVG_SCALE  # one stroke = one pen-down line
        polylines.append(resample(points, KANJIVG_STEP))
    return strokes_to_stroke3(polylines)


def _fetch_kanjivg(entry: DatasetEntry, out: Path, downloads: Path) -> tuple[str, dict[str, int]]:
    name, version, sha256 = KANJIVG
    wheel = next(downloads.glob(f"{name}-{version}-*.whl"), None) or download_pypi(name, version, downloads, wheel=True)
    verify_sha256(wheel, sha256)
    items = []
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            stem = Path(member).stem
            if not (member.startswith("kanji/") and member.endswith(".svg") and re.fullmatch(r"[0-9a-f]{5}", stem)):
                continue  # variants (XXXXX-Kaisho.svg ...) are other writings of the same character
            char = chr(int(stem, 16))
            if not char.isprintable() or char.isspace():
                continue
            items.append(StrokeSequence(char, kanjivg_strokes(archive.read(member).decode("utf-8"), member),
                                        f"kanjivg {char}"))  # fmt: skip
    if len(items) < 100:
        raise FetchError(f"{name}=={version}: found {len(items)} character SVGs; the package layout changed?")
    return _save_by_character(entry, out, items, f"{len(items):,} characters, stroke centre lines")


# --------------------------------------------------------------------------------------------- hershey
def parse_jhf(text: str, where: str) -> dict[str, tuple[float, float, list[np.ndarray]]]:
    """A .jhf font -> {character: (left bearing, right bearing, strokes [(n, 2) y down])}; glyph k is chr(32 + k).

    A glyph record: a 5-column number, a 3-column count of coordinate pairs (the bearings included), then
    the pairs as two characters each, value = ord(char) - ord("R"); " R" lifts the pen. Long records wrap."""
    lines = text.splitlines()
    glyphs, i = [], 0
    while i < len(lines):
        record = lines[i]
        i += 1
        if not record.strip():
            continue
        try:
            count = int(record[5:8])
        except ValueError:
            raise DataError(f"{where}: line {i}: expected a glyph record (number, count, pairs)") from None
        while len(record) - 8 < 2 * count and i < len(lines):
            record += lines[i]
            i += 1
        pairs = record[8 : 8 + 2 * count]
        left, right = ord(pairs[0]) - 82, ord(pairs[1]) - 82
        strokes, current = [], []
        for k in range(2, len(pairs) - 1, 2):
            if pairs[k : k + 2] == " R":
                strokes.append(current)
                current = []
            else:
                current.append((ord(pairs[k]) - 82, ord(pairs[k + 1]) - 82))
        strokes.append(current)
        glyphs.append((float(left), float(right), [np.array(s, dtype=np.float64) for s in strokes if s]))
    return {chr(32 + k): glyph for k, glyph in enumerate(glyphs[:95])}


def set_line(text: str, font: dict, rng: random.Random | None = None) -> np.ndarray:
    """`text` set in `font` (parse_jhf) as stroke-3, glyphs advanced by their bearings; with `rng`, the
    documented jitter (slant, scale, spacing, point noise)."""
    slant = rng.uniform(-0.2, 0.2) if rng else 0.0
    scale = rng.uniform(0.9, 1.1) if rng else 1.0
    strokes, x = [], 0.0
    for char in text:
        if char not in font:
            raise DataError(f"hershey: no glyph for {char!r}")
        left, right, glyph_strokes = font[char]
        for stroke in glyph_strokes:
            points = stroke + np.array([x - left, 0.0])
            strokes.append(points)
        x += right - left + (rng.uniform(0, 2) if rng else 0.0)
    out = []
    for points in strokes:
        points = points.copy()
        points[:, 0] -= slant * points[:, 1]
        points *= scale
        if rng:
            points += np.array([[rng.gauss(0, 0.15), rng.gauss(0, 0.15)] for _ in points])
        out.append(points)
    return strokes_to_stroke3(out)


def _fetch_hershey(entry: DatasetEntry, out: Path, downloads: Path) -> tuple[str, dict[str, int]]:
    name, version, sha256 = HERSHEY
    deb = next(downloads.glob(f"{name}_{version.split(':')[-1]}_*.deb"), None)
    if deb is None:
        deb = download_debian(name, version, downloads)
    verify_sha256(deb, sha256)
    fonts = {face: parse_jhf(deb_member(deb, f"usr/share/hershey-fonts/{face}.jhf").decode("latin-1"), face)
             for face in FACES}  # fmt: skip
    rng = random.Random(HERSHEY_SEED)
    seen, items, splits, faces = set(), [], [], []
    for _ in range(HERSHEY_LINES):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.choice((1, 1, 2, 2, 3))))
        face = rng.choice(FACES)
        if len(text) > 16 or (text, face) in seen:
            continue
        seen.add((text, face))
        items.append(StrokeSequence(text, set_line(text, fonts[face], rng), f"hershey {face}: {text}"))
        splits.append("test" if face == HELD_OUT_FACE else split_of(text, 10, 10))
        faces.append(face)
    return _save(entry, out, items, splits, faces, f"{len(items):,} lines in {len(FACES)} faces")


# ------------------------------------------------------------------------------------------------ cache
def _save(entry: DatasetEntry, out: Path, items, splits, faces, note) -> tuple[str, dict[str, int]]:
    np.savez_compressed(out / "sequences.npz", points=np.concatenate([s.points for s in items]),
                        lengths=np.array([len(s.points) for s in items]), texts=np.array([s.text for s in items]),
                        splits=np.array(splits), faces=np.array(faces))  # fmt: skip
    sizes = {split: splits.count(split) for split in entry.splits}
    return note, sizes


def _save_by_character(entry: DatasetEntry, out: Path, items: list[StrokeSequence], note: str) -> tuple[str, dict[str, int]]:
    """One writing per character (hanzi, kanjivg): sorted, split 80/10/10 by the character."""
    items = sorted(items, key=lambda item: item.text)
    return _save(entry, out, items, [split_of(item.text, 10, 10) for item in items], ["" for _ in items], note)


def _load(entry: DatasetEntry, directory: Path | None) -> HandwritingSet:
    assert directory is not None
    try:
        with np.load(directory / "sequences.npz", allow_pickle=False) as data:
            points, lengths = data["points"], data["lengths"].tolist()
            texts, splits, faces = data["texts"].tolist(), data["splits"].tolist(), data["faces"].tolist()
    except (OSError, KeyError, ValueError) as error:
        raise DataError(f"{directory}: the {entry.name} cache is damaged ({error}); run `rnnlab data fetch "
                        f"{entry.name} --force`") from None  # fmt: skip
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    items = [StrokeSequence(t, points[a:b], f"{entry.name} {t}") for t, a, b in zip(texts, offsets[:-1], offsets[1:])]
    return HandwritingSet(items, splits, faces)


register_dataset(DatasetEntry(
    name="hanzi",
    kind="strokes",
    description="9,574 Chinese characters in stroke order (stroke medians), one writing each, split by character",
    source=Source("npm", HANZI[0], HANZI[1], HANZI[2], member="<character>.json (medians)"),
    licence="Arphic Public License (derived from Arphic PL KaitiM / UKai fonts, via Make Me a Hanzi)",
    attribution="hanzi-writer-data by David Chanin; Make Me a Hanzi by Shaunak Kishore; Arphic Technology",
    fetch=_fetch_hanzi,
    load=_load,
    unit="characters",
))  # fmt: skip

register_dataset(DatasetEntry(
    name="kanjivg",
    kind="strokes",
    description="6,703 kanji (Japanese forms; 5,087 also in hanzi) in stroke order, one writing each, split by "
    "character as hanzi: hanzi+kanjivg gives those characters a second writer",
    source=Source("pypi", KANJIVG[0], KANJIVG[1], KANJIVG[2], member="kanji/XXXXX.svg (stroke paths kvg:XXXXX-sN)",
                  note=f"Béziers resampled every {KANJIVG_STEP:g} units on hanzi's 1024 grid"),
    licence="CC-BY-SA-3.0 (fetched, not embedded)",
    attribution="KanjiVG, copyright (C) Ulrich Apel, https://kanjivg.tagaini.net",
    fetch=_fetch_kanjivg,
    load=_load,
    unit="characters",
))  # fmt: skip

register_dataset(DatasetEntry(
    name="hershey-lines",
    kind="strokes",
    description="Latin text lines set in 6 single-stroke Hershey faces with random slant/scale/spacing jitter; "
    "split by text, the timesi face held out for test",
    source=Source("debian", HERSHEY[0], HERSHEY[1], HERSHEY[2], member="usr/share/hershey-fonts/*.jhf",
                  note=f"lines generated with seed {HERSHEY_SEED}"),
    licence="Hershey fonts: free for any use with the acknowledgement of Dr. A. V. Hershey (U.S. National "
    "Bureau of Standards) and James Hurt (Cognition, Inc.) for the format",
    attribution="The Hershey Fonts were originally created by Dr. A. V. Hershey while working at the U. S. "
    "National Bureau of Standards; the .jhf format was created by James Hurt, Cognition, Inc.",
    fetch=_fetch_hershey,
    load=_load,
    unit="lines",
))  # fmt: skip

"""Pen strokes in one in-memory format, stroke-3, with converters, normalisation and the user-file readers.

Stroke-3 (sketch-rnn's, Graves' handwriting chapter): a float32 array (N, 3), one row per pen point,
`(dx, dy, pen_up)`: the point's offset from the previous point (the first one's from the origin) and 1 when
the pen is lifted after this point (the last point of a stroke), else 0. y points down (SVG's convention).

    s3 = strokes_to_stroke3([np.array([[0, 0], [10, 0]]), np.array([[0, 5], [10, 5]])])
    stroke3_to_strokes(s3)          # back to a list of (n, 2) absolute polylines
    stroke3_to_stroke5(s3, 8)       # (8, 5): dx, dy, pen down, pen up, end of sequence (padded)
    stats = StrokeStats.fit([s3, ...]); stats.normalise(s3); stats.denormalise(...)

A user's own strokes (`data.dataset: files`): a folder of SVG files, one text each (its text from the
folder's `texts.tsv`, `file.svg<TAB>text`, or else the file name without `.svg`), or an `.npz` holding
`points` (sum N, 3) stroke-3 rows of every sequence end to end, `lengths` (K,) and `texts` (K,) strings.
A non-finite or absurd offset (beyond `MAX_OFFSET`), an SVG without a path, or a sequence of fewer than
two points is one DataError naming the file.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab.errors import DataError

__all__ = ["MAX_OFFSET", "StrokeStats", "StrokeSequence", "check_stroke3", "read_stroke_files", "read_svg_strokes",
           "stroke3_to_stroke5", "stroke3_to_strokes", "stroke5_to_stroke3", "strokes_to_stroke3"]  # fmt: skip

MAX_OFFSET = 1e5  # one pen step beyond this (in the file's units) is a broken file, not handwriting
SVG_STEP = 8.0  # curves in SVG paths are sampled about this many user units apart (even arc length)


@dataclass
class StrokeSequence:
    """One written text: its stroke-3 points (N, 3) float32 and where it came from."""

    text: str
    points: np.ndarray
    where: str = ""


# -------------------------------------------------------------------------------------------- converters
def strokes_to_stroke3(strokes: list[np.ndarray]) -> np.ndarray:
    """Absolute polylines [(n_i, 2), ...] -> stroke-3 (sum n_i, 3); the pen lifts after each polyline."""
    strokes = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in strokes if len(s)]
    if not strokes:
        return np.zeros((0, 3), dtype=np.float32)
    points = np.concatenate(strokes)
    pen = np.zeros(len(points))
    pen[np.cumsum([len(s) for s in strokes]) - 1] = 1.0
    offsets = np.diff(points, axis=0, prepend=np.zeros((1, 2)))
    return np.concatenate([offsets, pen[:, None]], axis=1).astype(np.float32)


def stroke3_to_strokes(s3: np.ndarray) -> list[np.ndarray]:
    """Stroke-3 (N, 3) -> the absolute polylines [(n_i, 2), ...] (a last stroke without pen-up is kept)."""
    s3 = np.asarray(s3, dtype=np.float64)
    points = np.cumsum(s3[:, :2], axis=0)
    ends = list(np.flatnonzero(s3[:, 2] > 0.5) + 1)
    if not ends or ends[-1] != len(s3):
        ends.append(len(s3))
    starts = [0, *ends[:-1]]
    return [points[a:b] for a, b in zip(starts, ends) if b > a]


def stroke3_to_stroke5(s3: np.ndarray, max_len: int) -> np.ndarray:
    """Stroke-3 (N, 3) -> stroke-5 (max_len, 5): dx, dy, p_down, p_up, p_end; rows after N are (0,0,0,0,1)
    (sketch-rnn's format). Raises ValueError when N > max_len."""
    if len(s3) > max_len:
        raise ValueError(f"a sequence of {len(s3)} points does not fit in {max_len}")
    out = np.zeros((max_len, 5), dtype=np.float32)
    out[: len(s3), :2] = s3[:, :2]
    out[: len(s3), 3] = s3[:, 2]
    out[: len(s3), 2] = 1 - s3[:, 2]
    out[len(s3) :, 4] = 1
    return out


def stroke5_to_stroke3(s5: np.ndarray) -> np.ndarray:
    """Stroke-5 (L, 5) -> stroke-3 (N, 3), cut at the first end-of-sequence row."""
    s5 = np.asarray(s5, dtype=np.float32)
    end = np.flatnonzero(s5[:, 4] > 0.5)
    n = int(end[0]) if len(end) else len(s5)
    return np.concatenate([s5[:n, :2], s5[:n, 3:4]], axis=1).astype(np.float32)


def check_stroke3(s3: np.ndarray, where: str) -> np.ndarray:
    """`s3` as float32 (N, 3), or a DataError naming `where`: wrong shape, too short, NaN/inf or absurd."""
    s3 = np.asarray(s3)
    if s3.ndim != 2 or s3.shape[1] != 3:
        raise DataError(f"{where}: expected stroke-3 points (N, 3), got shape {tuple(s3.shape)}")
    if len(s3) < 2:
        raise DataError(f"{where}: expected at least 2 pen points, got {len(s3)}")
    s3 = s3.astype(np.float64)
    bad = ~np.isfinite(s3).all(axis=1)
    if bad.any():
        raise DataError(f"{where}: point {int(np.flatnonzero(bad)[0]) + 1} has a NaN or infinite value")
    absurd = np.abs(s3[:, :2]).max(axis=1) > MAX_OFFSET
    if absurd.any():
        i = int(np.flatnonzero(absurd)[0])
        raise DataError(f"{where}: point {i + 1} has an absurd offset ({s3[i, 0]:g}, {s3[i, 1]:g}); expected |dx|, "
                        f"|dy| <= {MAX_OFFSET:g}")  # fmt: skip
    if not np.isin(s3[:, 2], (0.0, 1.0)).all():
        raise DataError(f"{where}: the pen-up column must hold 0 or 1")
    return s3.astype(np.float32)


# --------------------------------------------------------------------------------------------- statistics
@dataclass
class StrokeStats:
    """Normalisation of the offsets: (dx - mean_x) / std_x, (dy - mean_y) / std_y (Graves §4); pen bits kept.
    Fitted on the training sequences and saved with the model (`to_json` / `from_json`)."""

    mean: tuple[float, float] = (0.0, 0.0)
    std: tuple[float, float] = (1.0, 1.0)

    @classmethod
    def fit(cls, sequences: list[np.ndarray]) -> StrokeStats:
        offsets = np.concatenate([s[:, :2] for s in sequences]).astype(np.float64)
        std = np.maximum(offsets.std(axis=0), 1e-6)
        return cls(tuple(float(v) for v in offsets.mean(axis=0)), tuple(float(v) for v in std))

    def normalise(self, s3: np.ndarray) -> np.ndarray:
        out = np.array(s3, dtype=np.float32)
        out[:, :2] = (out[:, :2] - np.array(self.mean)) / np.array(self.std)
        return out

    def denormalise(self, s3: np.ndarray) -> np.ndarray:
        out = np.array(s3, dtype=np.float32)
        out[:, :2] = out[:, :2] * np.array(self.std) + np.array(self.mean)
        return out

    def log_jacobian(self) -> float:
        """log |d normalised / d raw| per point: add it to an NLL in normalised units to get raw units."""
        return float(-math.log(self.std[0]) - math.log(self.std[1]))

    def to_json(self) -> dict:
        return {"mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_json(cls, data: dict) -> StrokeStats:
        return cls(tuple(data["mean"]), tuple(data["std"]))


# ---------------------------------------------------------------------------------------------------- SVG
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_TOKEN = re.compile(rf"([MmLlHhVvCcQqSsTtZzAa])|({_NUMBER})")


def _bezier(points: np.ndarray) -> np.ndarray:
    """A cubic or quadratic Bézier (control points (k, 2)) sampled about SVG_STEP apart, first point left out."""
    length = float(np.linalg.norm(np.diff(points, axis=0), axis=1).sum())
    t = np.linspace(0, 1, max(2, int(math.ceil(length / SVG_STEP)) + 1))[1:, None]
    if len(points) == 3:
        return (1 - t) ** 2 * points[0] + 2 * (1 - t) * t * points[1] + t**2 * points[2]
    return ((1 - t) ** 3 * points[0] + 3 * (1 - t) ** 2 * t * points[1] + 3 * (1 - t) * t**2 * points[2]
            + t**3 * points[3])  # fmt: skip


def parse_svg_path(d: str, where: str) -> list[np.ndarray]:
    """The polylines of one SVG path's `d` (M L H V C Q S T Z, absolute and relative; arcs are refused)."""
    tokens = _TOKEN.findall(d)
    strokes: list[list] = []
    current = np.zeros(2)
    start = np.zeros(2)
    last_control = None
    command, i = None, 0
    values = [(c, float(n) if n else None) for c, n in tokens]

    def numbers(k: int) -> np.ndarray:
        nonlocal i
        got = [v for _, v in values[i : i + k]]
        if len(got) < k or any(v is None for v in got):
            raise DataError(f"{where}: malformed path data near command {command!r}")
        i += k
        return np.array(got, dtype=np.float64)

    while i < len(values):
        letter, _ = values[i]
        if letter:
            command, i = letter, i + 1
            if command in "Aa":
                raise DataError(f"{where}: SVG arcs (A) are not supported; use lines or Béziers")
            if command in "Zz":
                if strokes and strokes[-1]:
                    strokes[-1].append(start.copy())
                current = start.copy()
                continue
        elif command is None:
            raise DataError(f"{where}: path data must start with a command (M)")
        relative = command.islower()
        upper = command.upper()
        base = current if relative else np.zeros(2)
        if upper == "M":
            current = base + numbers(2)
            start = current.copy()
            strokes.append([current.copy()])
            command = "l" if relative else "L"  # further pairs are lines
            continue
        if not strokes:
            strokes.append([current.copy()])
        if upper == "L":
            current = base + numbers(2)
            strokes[-1].append(current.copy())
        elif upper in "HV":
            value = numbers(1)[0]
            current = current.copy()
            axis = 0 if upper == "H" else 1
            current[axis] = (current[axis] if relative else 0) + value
            strokes[-1].append(current.copy())
        elif upper in "CS":
            if upper == "C":
                c = numbers(6).reshape(3, 2) + base
            else:
                c2 = numbers(4).reshape(2, 2) + base
                c1 = 2 * current - last_control if last_control is not None else current
                c = np.stack([c1, *c2])
            strokes[-1].extend(_bezier(np.stack([current, *c])))
            last_control, current = c[1], c[2].copy()
            continue
        elif upper in "QT":
            if upper == "Q":
                c = numbers(4).reshape(2, 2) + base
            else:
                c1 = 2 * current - last_control if last_control is not None else current
                c = np.stack([c1, base + numbers(2)])
            strokes[-1].extend(_bezier(np.stack([current, *c])))
            last_control, current = c[0], c[1].copy()
            continue
        last_control = None
    return [np.array(s) for s in strokes if len(s) >= 1]


def read_svg_strokes(path: str | Path) -> np.ndarray:
    """The stroke-3 points of an SVG file's <path d="..."> and <polyline points="..."> elements, in order."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read ({error.__class__.__name__}: {error})") from None
    strokes: list[np.ndarray] = []
    for match in re.finditer(r"<(path|polyline|line)\b([^>]*)>", text, flags=re.S):
        kind, attributes = match.groups()
        attr = dict(re.findall(r'([\w:-]+)\s*=\s*"([^"]*)"', attributes))
        if kind == "path" and "d" in attr:
            strokes += parse_svg_path(attr["d"], str(path))
        elif kind == "polyline" and "points" in attr:
            numbers = [float(v) for v in re.findall(_NUMBER, attr["points"])]
            if len(numbers) >= 2:
                strokes.append(np.array(numbers[: len(numbers) // 2 * 2]).reshape(-1, 2))
        elif kind == "line" and all(k in attr for k in ("x1", "y1", "x2", "y2")):
            strokes.append(np.array([[float(attr["x1"]), float(attr["y1"])], [float(attr["x2"]), float(attr["y2"])]]))
    if not strokes:
        raise DataError(f"{path}: no <path>, <polyline> or <line> with points in this SVG; expected pen strokes")
    return check_stroke3(strokes_to_stroke3(strokes), str(path))


# ------------------------------------------------------------------------------------------------- files
def _svg_texts(folder: Path) -> dict[str, str]:
    tsv = folder / "texts.tsv"
    if not tsv.exists():
        return {}
    out = {}
    with open(tsv, encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if not row or not "".join(row).strip():
                continue
            if len(row) != 2 or not row[1].strip():
                raise DataError(f"{tsv}:{number}: expected file.svg<TAB>text")
            out[row[0].strip()] = row[1].strip()
    return out


def read_stroke_files(path: str | Path) -> list[StrokeSequence]:
    """A user's strokes: a folder of SVG files (texts from texts.tsv or the file names) or an .npz file."""
    path = Path(path)
    if path.is_dir():
        texts = _svg_texts(path)
        files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".svg")
        if not files:
            raise DataError(f"{path}: no .svg files in this folder; expected one SVG of strokes per text")
        return [StrokeSequence(texts.get(p.name, p.stem), read_svg_strokes(p), str(p)) for p in files]
    if not path.exists():
        raise DataError(f"{path}: no such file or folder (expected a folder of SVG files or an .npz)")
    if path.suffix.lower() == ".svg":
        return [StrokeSequence(path.stem, read_svg_strokes(path), str(path))]
    if path.suffix.lower() != ".npz":
        raise DataError(f"{path}: expected a folder of SVG files, an .svg or an .npz of stroke-3 arrays")
    try:
        with np.load(path, allow_pickle=False) as data:
            points, lengths, texts = data["points"], data["lengths"], data["texts"]
    except KeyError as error:
        raise DataError(f"{path}: expected arrays points (N, 3), lengths (K,) and texts (K,); missing {error}") from None
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: not a readable .npz ({error})") from None
    if lengths.ndim != 1 or len(lengths) != len(texts) or (lengths < 0).any() or int(lengths.sum()) != len(points):
        raise DataError(f"{path}: lengths must be K counts summing to the {len(points)} rows of points, one per text")
    out, start = [], 0
    for k, (n, text) in enumerate(zip(lengths.tolist(), texts.tolist())):
        where = f"{path}: sequence {k + 1}"
        if not str(text).strip():
            raise DataError(f"{where}: empty text")
        out.append(StrokeSequence(str(text), check_stroke3(points[start : start + n], where), where))
        start += n
    return out


def write_stroke_npz(path: str | Path, sequences: list[StrokeSequence]) -> None:
    """The .npz that `read_stroke_files` reads (points, lengths, texts)."""
    np.savez(path, points=np.concatenate([s.points for s in sequences]).astype(np.float32),
             lengths=np.array([len(s.points) for s in sequences]), texts=np.array([s.text for s in sequences]))  # fmt: skip

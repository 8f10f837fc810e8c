"""A trained handwriting model, loaded (`Handwriter`, `load_handwriter`), and what it is used for: `rnnlab eval`
(NLL in nats per sequence and per point) and the `write` verb (text -> SVG, PNG, animated GIF, and for a
conditional model the soft window over the characters against time).

    writer = load_handwriter("runs/handwriting-hanzi")       # a run directory: uses best/
    points, phi = writer.write("永远", bias=1.0, seed=0)      # stroke-3 (N, 3) in the data's units

A model directory holds config.json (`"task": "handwriting"`, the whole HandwritingConfig), stats.json (the
offsets' normalisation) and, for a conditional model, alphabet.json (the characters it trained on).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from rnnlab.config import config_from_dict
from rnnlab.data.strokes import StrokeSequence, StrokeStats
from rnnlab.errors import CheckpointError, ConfigError, DataError
from rnnlab.nn.handwriting import HandwritingNet
from rnnlab.tasks.registry import EvalRequest
from rnnlab.train import load_model_dir, load_model_weights
from rnnlab.validation import check_option
from rnnlab.verbs import Artifact, Verb

if TYPE_CHECKING:
    from rnnlab.tasks.handwriting import HandwritingConfig

__all__ = ["Alphabet", "Handwriter", "WRITE_VERB", "WriteOptions", "evaluate", "format_evaluation",
           "load_handwriter", "monotone"]  # fmt: skip

TASK = "handwriting"
PAD, UNK = 0, 1


class Alphabet:
    """The characters a conditional model trained on: id 0 pads, 1 is an unknown character."""

    def __init__(self, chars: list[str], single: bool = False, chars_per_text: float | None = None) -> None:
        self.chars = chars
        self.single = single  # every training text was one character (hanzi): longer texts are written
        self.index = {c: i + 2 for i, c in enumerate(chars)}  # one character at a time, side by side
        # the training texts' mean length, which sizes the room a text gets when written (`default_max_points`);
        # models saved before it was stored: 1 if single, else 8 (about a Hershey line)
        self.chars_per_text = float(chars_per_text) if chars_per_text is not None else (1.0 if single else 8.0)
        if not self.chars_per_text > 0:  # a corrupt alphabet.json: load_handwriter names the file
            raise ValueError(f"chars_per_text must be > 0, found {chars_per_text!r}")

    @classmethod
    def build(cls, texts: Iterable[str]) -> Alphabet:
        texts = list(texts)
        mean = sum(map(len, texts)) / len(texts) if texts else None
        return cls(sorted({c for text in texts for c in text}), all(len(t) == 1 for t in texts), mean)

    def __len__(self) -> int:
        return len(self.chars) + 2

    def unknown(self, text: str) -> list[str]:
        return list(dict.fromkeys(c for c in text if c not in self.index))

    def encode(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(ids (B, U), mask (B, U)) padded with PAD; unknown characters are UNK."""
        width = max(1, max(len(t) for t in texts))
        ids = torch.full((len(texts), width), PAD, dtype=torch.long)
        mask = torch.zeros(len(texts), width)
        for row, text in enumerate(texts):
            ids[row, : len(text)] = torch.tensor([self.index.get(c, UNK) for c in text], dtype=torch.long)
            mask[row, : len(text)] = 1
        return ids, mask

    def to_json(self) -> dict:
        return {"chars": self.chars, "single": self.single, "chars_per_text": self.chars_per_text}


def monotone(phi: np.ndarray) -> bool:
    """Whether the window's most weighted character never moves back: argmax over u of phi (T, U) is
    non-decreasing in t."""
    if len(phi) == 0:
        return True
    return bool((np.diff(np.asarray(phi).argmax(axis=1)) >= 0).all())


# ------------------------------------------------------------------------------------------- the model
class Handwriter:
    """A trained HandwritingNet with its normalisation and alphabet: NLLs, and writing a text."""

    def __init__(self, model: HandwritingNet, stats: StrokeStats, alphabet: Alphabet | None,
                 config: HandwritingConfig) -> None:  # fmt: skip
        self.model, self.stats, self.alphabet, self.config = model, stats, alphabet, config

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.no_grad()
    def nll(self, items: list[StrokeSequence], batch_size: int = 64) -> dict:
        """NLL in nats per sequence and per point (normalised units, and the data's own units)."""
        from rnnlab.tasks.handwriting import encode_batch, sequence_nll

        training = self.model.training
        self.model.eval()
        total, points = 0.0, 0
        order = sorted(range(len(items)), key=lambda i: len(items[i].points))
        for start in range(0, len(order), batch_size):
            chunk = [items[i] for i in order[start : start + batch_size]]
            batch = [t.to(self.device) for t in encode_batch(chunk, self.stats, self.alphabet)]
            nll, _, lengths = sequence_nll(self.model, batch)
            total, points = total + float(nll.sum()), points + int(lengths.sum())
        self.model.train(training)
        count = max(1, len(items))
        raw = total - points * self.stats.log_jacobian()  # the NLL of the offsets in the data's units
        return {"sequences": len(items), "points": points, "nll_per_point": total / max(1, points),
                "nll_per_sequence": total / count, "nll_per_point_raw": raw / max(1, points),
                "nll_per_sequence_raw": raw / count}  # fmt: skip

    def check_text(self, text: str) -> None:
        if not text.strip():
            raise DataError("empty text; expected at least one character to write")
        if self.alphabet is not None and (unknown := self.alphabet.unknown(text)):
            shown = " ".join(repr(c) for c in unknown)
            raise DataError(f"this model never saw {shown}: it writes only the {len(self.alphabet.chars)} "
                            "characters of its training texts")  # fmt: skip

    def default_max_points(self, text: str) -> int:
        """1.5x the training cap on points per text, times how many training texts `text` is as long as (one
        for an unconditional model, which writes no text), within [100, 5000]."""
        texts = 1.0 if self.alphabet is None else max(1, len(text)) / self.alphabet.chars_per_text
        return min(5000, max(100, int(1.5 * self.config.data.max_points * texts)))

    @torch.no_grad()
    def write(self, text: str, bias: float = 0.0, seed: int = 0, max_points: int | None = None):
        """(stroke-3 (N, 3) in the data's units, phi (N, U) or None) for `text` (ignored when unconditional).
        A model trained on single characters writes a longer text one character at a time, left to right."""
        self.check_text(text)
        if self.alphabet is not None and self.alphabet.single and len(text) > 1:
            return self._write_each(text, bias, seed, max_points)
        generator = torch.Generator(device=self.device).manual_seed(seed)
        limit = max_points or self.default_max_points(text)
        training = self.model.training
        self.model.eval()
        if self.alphabet is not None:
            ids, mask = self.alphabet.encode([text])
            points, phis = self.model.write(ids.to(self.device), mask.to(self.device), max_points=limit, bias=bias,
                                            generator=generator, window_stop=not self.alphabet.single)  # fmt: skip
        else:
            points, phis = self.model.write(batch=1, max_points=limit, bias=bias, generator=generator)
        self.model.train(training)
        s3 = self.stats.denormalise(points[0].cpu().numpy())
        if len(s3):
            s3[-1, 2] = 1.0  # the pen lifts at the end
        return s3, (phis[0].cpu().numpy() if phis is not None else None)


    def _write_each(self, text: str, bias: float, seed: int, max_points: int | None):
        """Each character written on its own (seed + its position), placed right of the previous one with a
        gap of a fifth of the tallest; phi is block-diagonal: character u's steps weigh only position u."""
        from rnnlab.data.strokes import stroke3_to_strokes, strokes_to_stroke3

        blank = (np.zeros((0, 3), dtype=np.float32), None)  # a space: a gap, nothing written
        parts = [blank if char.isspace() else self.write(char, bias, seed + i, max_points) for i, char in enumerate(text)]
        every = [np.concatenate(stroke3_to_strokes(s3)) for s3, _ in parts if len(s3)]
        height = max((float(np.ptp(p[:, 1])) for p in every), default=1.0) or 1.0
        strokes, x = [], 0.0
        for s3, _ in parts:
            pieces = stroke3_to_strokes(s3) if len(s3) else []
            if not pieces:
                x += height / 2
                continue
            left = min(float(p[:, 0].min()) for p in pieces)
            right = max(float(p[:, 0].max()) for p in pieces)
            strokes += [p + np.array([x - left, 0.0]) for p in pieces]
            x += right - left + height / 5
        phi = np.zeros((sum(len(s3) for s3, _ in parts), len(text)), dtype=np.float32)
        row = 0
        for u, (s3, char_phi) in enumerate(parts):
            phi[row : row + len(s3), u] = char_phi[:, 0] if char_phi is not None else 1.0
            row += len(s3)
        return strokes_to_stroke3(strokes), phi


def load_handwriter(path: str | Path) -> Handwriter:
    from rnnlab.tasks.handwriting import HandwritingConfig  # here: that module imports this one

    checkpoint = load_model_dir(path, TASK)
    try:
        config = config_from_dict(HandwritingConfig, checkpoint.config["config"], source=str(checkpoint.path))
        stats = StrokeStats.from_json(checkpoint.read_json("stats.json"))
        if config.model.conditional:
            saved = checkpoint.read_json("alphabet.json")
            alphabet = Alphabet(saved["chars"], bool(saved.get("single", False)), saved.get("chars_per_text"))
        else:
            alphabet = None
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{checkpoint.path}: config.json, stats.json or alphabet.json lacks a field ({error})") from None
    model = HandwritingNet(config.model, len(alphabet) if alphabet else 1)
    load_model_weights(model, checkpoint)
    model.eval()
    return Handwriter(model, stats, alphabet, config)


# ----------------------------------------------------------------------------------------------- eval
def evaluate(path: str | Path, request: EvalRequest) -> dict:
    """NLL per sequence and per point on a split of the model's data, or on a stroke file/folder."""
    from rnnlab.data.strokes import read_stroke_files
    from rnnlab.tasks.handwriting import load_splits

    writer = load_handwriter(path)
    if request.data_file:
        items, where = read_stroke_files(request.data_file), request.data_file
    else:
        items = list(request.examples_of(load_splits(writer.config.data)))
        where = f"{writer.config.data.dataset} {request.split}"
    result = writer.nll(items, writer.config.eval_batch_size)
    result["where"] = where
    result["conditional"] = writer.alphabet is not None
    result["mixtures"] = writer.config.model.mixtures
    return result


def format_evaluation(result: dict) -> str:
    kind = "conditional" if result["conditional"] else "unconditional"
    return (f"{result['where']}: {result['sequences']} sequences, {result['points']} points ({kind}, "
            f"{result['mixtures']} Gaussians)\n"
            f"  NLL {result['nll_per_sequence']:.2f} nats per sequence, {result['nll_per_point']:.4f} per point "
            f"(offsets normalised by the training std)\n"
            f"  NLL {result['nll_per_sequence_raw']:.2f} nats per sequence, {result['nll_per_point_raw']:.4f} per point "
            f"(offsets in the data's units)")  # fmt: skip


# ----------------------------------------------------------------------------------------------- verb
@dataclass
class WriteOptions:
    bias: float = field(default=0.5, metadata={"help": "Graves' sampling bias b >= 0 (0: as trained; larger: neater)"})
    seed: int = field(default=0, metadata={"help": "random seed of the sampling"})
    max_points: int | None = field(default=None, metadata={"help": "most pen points per text (default: from the "
                                                                     "model's data)"})  # fmt: skip

    def __post_init__(self) -> None:
        if isinstance(self.bias, bool) or not isinstance(self.bias, (int, float)) or not math.isfinite(self.bias) \
                or not 0 <= self.bias <= 10:  # fmt: skip
            raise ConfigError(f"--bias must be a number in [0, 10], got {self.bias!r}")
        for name in ("seed", "max_points"):
            setattr(self, name, check_option(name, getattr(self, name)))


def _slug(text: str, number: int) -> str:
    kept = "".join(c if c.isalnum() else "-" for c in text.strip())[:24].strip("-")
    return f"{number}-{kept}" if kept else str(number)


def run_write(writer: Handwriter, texts: list[str], options: WriteOptions) -> Iterator[dict | Artifact]:
    """The `write` verb: per text `{"text", "points", "strokes", "window_monotone"}` and its pictures."""
    from rnnlab.tasks.handwriting_draw import gif_of, png_of, svg_of, window_png

    for text in texts:  # every text checked before anything is written
        writer.check_text(text)
    for number, text in enumerate(texts, start=1):
        s3, phi = writer.write(text, options.bias, options.seed, options.max_points)
        result = {"text": text, "points": len(s3), "strokes": int(s3[:, 2].sum())}
        if phi is not None:
            result["window_monotone"] = monotone(phi)
        yield result
        name = _slug(text, number)
        yield Artifact("image/svg+xml", svg_of(s3), f"{name}.svg")
        yield Artifact("image/png", png_of(s3), f"{name}.png")
        yield Artifact("image/gif", gif_of(s3), f"{name}.gif")
        if phi is not None:
            yield Artifact("image/png", window_png(phi, text), f"{name}-window.png")


WRITE_VERB = Verb(name="write", help="write texts as pen strokes: SVG, PNG, an animated GIF and the attention window",
                  options=WriteOptions, run=run_write, inputs="text", what="texts", artifacts=True,
                  description="sample handwriting for each text from a handwriting model (a conditional model writes "
                  "that text through its soft window; an unconditional one writes freely). Artifacts under --out: "
                  "TEXT.svg, TEXT.png, TEXT.gif (the pen moving) and, for a conditional model, TEXT-window.png (the "
                  "window's weight on each character against time). --bias b sharpens the samples (Graves 2013, "
                  "§5.4); characters the model never saw are refused")  # fmt: skip

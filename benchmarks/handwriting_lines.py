"""Recognisability of synthesised Latin lines (issue #25): can a reader trained on real Hershey lines read what
the synthesis model writes for texts it never trained on?

    python benchmarks/handwriting.py --only window --minutes 45 --hidden 256 --runs R   # trains R/synthesis-hershey
    python benchmarks/handwriting_lines.py --run R/synthesis-hershey --bias 0.5,1,3

The reader (the issue's "BiLSTM on strokes"): a 2-layer bidirectional LSTM over the normalised stroke-3 points
(dx, dy, pen up) with a CTC output over the model's characters (Graves et al. 2006), trained a fixed number of
epochs from a fixed seed on the real training lines of `hershey-lines` (five faces), each line redrawn by a new
random near-identity affine map every epoch (`rnnlab.tasks.handwriting.jittered`). Greedy CTC decoding.

Scored by character accuracy, 1 - (edit distance / reference length) summed over lines (1 - CER), and the
share of lines read exactly:
- real lines the reader never saw: the valid split (held-out texts, training faces) and the test lines in
  the held-out `timesi` face;
- what the synthesis model writes (`best/`, bias `--bias`, seeds 0..`--seeds`-1) for the test texts that are
  not also training texts (new combinations of known characters), the first `--lines` of them.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

# the sibling benchmark (run as a script, this directory is on sys.path)
from handwriting import held_out_texts
from rnnlab.data.handwriting_sets import HELD_OUT_FACE
from rnnlab.data.registry import load_dataset
from rnnlab.data.strokes import StrokeSequence, StrokeStats
from rnnlab.tasks.handwriter import load_handwriter
from rnnlab.tasks.handwriting import jittered, load_splits


class LineReader(nn.Module):
    """A BiLSTM over stroke-3 points with CTC outputs: class 0 is the blank, class k + 1 the k-th character."""

    def __init__(self, characters: int, hidden: int = 96, layers: int = 2) -> None:
        super().__init__()
        self.lstm = nn.LSTM(3, hidden, layers, batch_first=True, bidirectional=True, dropout=0.1)
        self.out = nn.Linear(2 * hidden, characters + 1)

    def forward(self, points: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """points (B, T, 3), lengths (B,) -> log-probabilities (T, B, C), as `F.ctc_loss` takes them."""
        packed = pack_padded_sequence(points, lengths, batch_first=True, enforce_sorted=False)
        out, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=points.shape[1])
        return self.out(out).log_softmax(-1).transpose(0, 1)


def batch_of(lines: list[np.ndarray], stats: StrokeStats) -> tuple[torch.Tensor, torch.Tensor]:
    """(points (B, T, 3) normalised and zero-padded, lengths (B,)) from raw stroke-3 lines."""
    lengths = torch.tensor([len(s) for s in lines])
    points = torch.zeros(len(lines), int(lengths.max()), 3)
    for row, s in enumerate(lines):
        points[row, : len(s)] = torch.from_numpy(stats.normalise(s))
    return points, lengths


def train_reader(train: list[StrokeSequence], stats: StrokeStats, chars: list[str], epochs: int,
                 jitter: float = 0.1, batch_size: int = 32) -> LineReader:  # fmt: skip
    """The reader on the real training lines, `epochs` passes, each line redrawn by a new affine jitter per pass."""
    print(f"reader: {len(train):,} real training lines, {len(chars)} characters, {epochs} epochs")
    index = {c: k + 1 for k, c in enumerate(chars)}
    torch.manual_seed(0)
    rng, shuffler = np.random.default_rng(0), random.Random(0)
    reader = LineReader(len(chars))
    optimiser = torch.optim.Adam(reader.parameters(), 3e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, epochs)
    order = sorted(range(len(train)), key=lambda i: len(train[i].points))  # batches of similar length
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    started = time.perf_counter()
    for epoch in range(epochs):
        shuffler.shuffle(batches)
        total = 0.0
        for batch in batches:
            points, lengths = batch_of([jittered(train[i].points, jitter, rng) for i in batch], stats)
            targets = [torch.tensor([index[c] for c in train[i].text]) for i in batch]
            loss = F.ctc_loss(reader(points, lengths), torch.cat(targets), lengths,
                              torch.tensor([len(t) for t in targets]), zero_infinity=True)  # fmt: skip
            optimiser.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(reader.parameters(), 5.0)
            optimiser.step()
            total += float(loss.detach())
        schedule.step()
        print(f"  reader epoch {epoch + 1}/{epochs}: CTC loss {total / len(batches):.3f} "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
    return reader.eval()


@torch.no_grad()
def read(reader: LineReader, lines: list[np.ndarray], stats: StrokeStats, chars: list[str]) -> list[str]:
    """Greedy CTC decoding: the best class per point, repeats merged, blanks dropped."""
    texts = []
    for start in range(0, len(lines), 64):
        points, lengths = batch_of(lines[start : start + 64], stats)
        best = reader(points, lengths).argmax(-1).T  # (B, T)
        for row, n in zip(best.tolist(), lengths.tolist()):
            merged = [k for t, k in enumerate(row[:n]) if k != 0 and (t == 0 or k != row[t - 1])]
            texts.append("".join(chars[k - 1] for k in merged))
    return texts


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions each cost 1)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def scores(references: list[str], readings: list[str]) -> dict:
    """Character accuracy (1 - CER over all lines) and the share of lines read exactly."""
    errors = sum(edit_distance(r, h) for r, h in zip(references, readings))
    return {"lines": len(references), "char_accuracy": 1 - errors / max(1, sum(len(r) for r in references)),
            "exact": sum(r == h for r, h in zip(references, readings)) / max(1, len(references))}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default="runs/bench-handwriting/synthesis-hershey",
                        help="a synthesis run on hershey-lines (its best/ writes)")
    parser.add_argument("--bias", default="1", help="Graves' sampling bias; a comma-separated list writes with each")
    parser.add_argument("--lines", type=int, default=60, help="held-out test texts written")
    parser.add_argument("--seeds", type=int, default=1, help="sampling seeds per text")
    parser.add_argument("--epochs", type=int, default=12, help="reader training epochs (fixed: load does not change it)")
    parser.add_argument("--reader", default=None,
                        help="a reader's weights: loaded if the file exists, else trained and saved there (one reader "
                             "serves every run of the same data)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    writer = load_handwriter(args.run)
    if writer.alphabet is None or writer.config.data.dataset != "hershey-lines":
        raise SystemExit(f"{args.run}: expected a synthesis model trained on hershey-lines")
    splits = load_splits(writer.config.data)
    chars = list(writer.alphabet.chars)
    if args.reader and Path(args.reader).exists():
        reader = LineReader(len(chars))
        reader.load_state_dict(torch.load(args.reader, weights_only=True))
        reader.eval()
        print(f"reader: {args.reader}")
    else:
        reader = train_reader(splits["train"], writer.stats, chars, args.epochs)
        if args.reader:
            torch.save(reader.state_dict(), args.reader)

    results: dict = {"run": str(args.run), "epochs": args.epochs}
    lines_set = load_dataset("hershey-lines")  # the faces are kept beside the sequences
    held_out_face = [item for item, face in zip(lines_set.items, lines_set.faces)
                     if face == HELD_OUT_FACE and len(item.points) <= writer.config.data.max_points]  # fmt: skip
    for name, items in (("real valid lines (held-out texts)", splits["valid"]),
                        (f"real test lines in the held-out face {HELD_OUT_FACE}", held_out_face)):  # fmt: skip
        result = scores([s.text for s in items], read(reader, [s.points for s in items], writer.stats, chars))
        results[name] = result
        print(f"{name}: {result['lines']} lines, character accuracy {result['char_accuracy']:.3f}, "
              f"exact {result['exact']:.3f}")

    prompts = held_out_texts(splits, writer.alphabet, args.lines)  # the window test's texts
    for bias in [float(b) for b in str(args.bias).split(",")]:
        written = [(t, seed) for t in prompts for seed in range(max(1, args.seeds))]
        lines = [writer.write(t, bias=bias, seed=seed)[0] for t, seed in written]
        readings = read(reader, lines, writer.stats, chars)
        result = scores([t for t, _ in written], readings)
        results[f"synthesised_bias_{bias:g}"] = result
        print(f"synthesised, bias {bias:g}: {result['lines']} lines ({len(prompts)} texts not in training), "
              f"character accuracy {result['char_accuracy']:.3f} (target >= 0.9), exact {result['exact']:.3f}")
        for (text, _), reading in list(zip(written, readings))[:5]:
            print(f"    {text!r} read as {reading!r}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""The encoder-decoder unrolled, from a trained translation model: in training and at inference.

The chapter's two figures of a seq2seq model, drawn from a real model on a real sentence:

- **training (teacher forcing)**: the encoder reads the source; the decoder's input at step t is the
  *reference* token y_{t-1}, whatever it predicted at step t-1. Each step shows its input, the token it
  would predict and the probability it gives the reference token.
- **inference (free running)**: the decoder's input at step t is its *own* prediction at step t-1 (greedy
  decoding here), so one early mistake feeds every later step.

Both panels draw the attention weights (when the model has attention) as lines from each decoder step to the
source pieces it reads, darker for larger weights: the alignment the model learned.

    run = unroll_run(translator, "Es regnet.", reference="It is raining.")   # teacher forcing
    run = unroll_run(translator, "Es regnet.")                               # free running (greedy)
    draw_unrolled([teacher, free], "seq2seq.svg")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from rnnlab.errors import UserError

MAX_PIECES = 40  # a diagram wider than this is unreadable: longer sentences are refused


@dataclass
class UnrolledRun:
    """One pass of the decoder over a target: what it read, predicted and attended to at each step."""

    mode: str  # "teacher forcing" or "free running"
    source: list[str]  # source pieces
    inputs: list[str]  # the decoder's input at each step: <s>, then the previous target token
    targets: list[str]  # the token each step was trained / chosen to emit (reference or own output), </s> last
    predicted: list[str]  # the most probable token at each step
    target_probabilities: list[float]  # p(targets[t] | inputs so far)
    attention: list[list[float]] | None  # (steps, source pieces), rows sum to 1


@torch.no_grad()
def unroll_run(translator, source: str, reference: str | None = None) -> UnrolledRun:
    """Teacher forcing on `reference`, or (None) free running: greedy decoding feeding back its own output.

    For greedy decoding the two are the same computation on different targets: the decoder fed its own
    argmax at every step reads exactly the tokens it produced, so both run the model once on a given target.
    """
    from rnnlab.data.pair_batches import EncodedPair, make_batch
    from rnnlab.data.subword import PAD_ID
    from rnnlab.train import move_to

    if reference is None:
        target_ids = translator.translate([source], method="greedy", n_best=1, warn=False)[0][0].ids
        mode = "free running"
    else:
        target_ids = translator.tgt_vocab.encode(reference)
        mode = "teacher forcing"
    model = translator.model.eval()
    (src_ids,) = translator.encode_sources([source], warn=False)
    if len(src_ids) > MAX_PIECES or len(target_ids) + 1 > MAX_PIECES:
        raise UserError(f"inspect seq2seq draws sentences of at most {MAX_PIECES} subwords a side; this one has "
                        f"{len(src_ids)} and {len(target_ids) + 1}")  # fmt: skip
    batch = move_to(make_batch([EncodedPair(src_ids, list(target_ids))]), translator.device)
    logits, weights = model(batch["src"], batch["src_lengths"], batch["tgt_in"])
    probs = logits[0].float().softmax(-1)  # (T, V)
    gold = batch["tgt_out"][0]
    keep = gold != PAD_ID
    pieces = translator.tgt_vocab.pieces
    targets = [*pieces(list(target_ids)), "</s>"]
    return UnrolledRun(
        mode=mode,
        source=translator.src_vocab.pieces(src_ids),
        inputs=["<s>", *targets[:-1]],
        targets=targets,
        predicted=[_piece(pieces, int(i)) for i in probs.argmax(-1)[keep]],
        target_probabilities=[float(f"{float(p):.6g}") for p in probs[keep].gather(1, gold[keep].unsqueeze(1)).squeeze(1)],
        attention=None if weights is None else [[round(float(w), 4) for w in row] for row in weights[0][keep]],
    )


def _piece(pieces, token_id: int) -> str:
    shown = pieces([token_id])
    return shown[0] if shown else "</s>"


def draw_unrolled(runs: list[UnrolledRun], path: str | Path, title: str = "") -> None:
    """One panel per run: encoder cells over the source, decoder cells over the steps, inputs below,
    predictions above, attention as lines (alpha = weight). PNG, SVG or PDF by the suffix of `path`."""
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    width = max(max(len(r.source) + len(r.inputs) for r in runs) * 1.05 + 2, 8)
    fig = Figure(figsize=(width, (2.2 + 0.06 * width) * len(runs)))
    axes = fig.subplots(len(runs), 1, squeeze=False)[:, 0]
    for ax, run in zip(axes, runs):
        span = len(run.source) + len(run.inputs)
        ax.set_xlim(-0.8, span + 0.8)
        ax.set_ylim(-0.8, 1.8 + 0.07 * span)  # room for the attention arcs, which rise with their length
        ax.axis("off")
        encoder_x = list(range(len(run.source)))
        decoder_x = [len(run.source) + 1 + t for t in range(len(run.inputs))]

        def cell(x: float, label: str, colour: str, ax=ax) -> None:
            ax.add_patch(FancyBboxPatch((x - 0.35, 0.0), 0.7, 0.6, boxstyle="round,pad=0.02", fc=colour, ec="#333"))
            ax.text(x, 0.3, label, ha="center", va="center", fontsize=7)

        def arrow(x0, y0, x1, y1, colour="#333", style="-|>", alpha=1.0, rad=0.0, ax=ax) -> None:
            ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle=style, mutation_scale=8, color=colour,
                                         alpha=alpha, connectionstyle=f"arc3,rad={rad}"))  # fmt: skip

        if run.attention is not None:  # under the cells: lines from each step to the source it reads
            for t, row in enumerate(run.attention):
                for s, weight in enumerate(row):
                    if weight >= 0.05:
                        arrow(decoder_x[t], 1.5, encoder_x[s], 0.62, colour="#d62728", style="-",
                              alpha=min(1.0, weight), rad=0.12)  # fmt: skip
        for s, (x, piece) in enumerate(zip(encoder_x, run.source)):
            cell(x, "enc", "#cfe2f3")
            ax.text(x, -0.45, piece, ha="center", va="center", fontsize=8)
            arrow(x, -0.3, x, 0.0)
            if s:
                arrow(x - 0.65, 0.3, x - 0.35, 0.3)
        arrow(encoder_x[-1] + 0.35, 0.3, decoder_x[0] - 0.35, 0.3, colour="#6a51a3")  # the bridge
        for t, x in enumerate(decoder_x):
            wrong = run.predicted[t] != run.targets[t]
            cell(x, "dec", "#fde9c9")
            fed_back = run.mode == "free running" and t > 0
            ax.text(x, -0.45, run.inputs[t], ha="center", va="center", fontsize=8,
                    color="#1f77b4" if fed_back else "#2ca02c" if t else "#333")  # fmt: skip
            arrow(x, -0.3, x, 0.0)
            if t:
                arrow(x - 0.65, 0.3, x - 0.35, 0.3)
            ax.text(x, 1.0, run.predicted[t], ha="center", va="center", fontsize=8,
                    color="#d62728" if wrong else "#333", fontweight="bold")  # fmt: skip
            ax.text(x, 1.35, f"p={run.target_probabilities[t]:.2f}", ha="center", va="center", fontsize=6,
                    color="#555")  # fmt: skip
            arrow(x, 0.6, x, 0.85)
            if fed_back:  # its own previous output becomes this step's input
                arrow(x - 1 + 0.15, 1.0, x - 0.1, -0.45, colour="#1f77b4", alpha=0.6, rad=-0.3)
        how = ("input = the reference's previous token (green); above: the most probable token (red when it is "
               "not the reference) and p(reference)") if run.mode == "teacher forcing" else (
               "input = the model's own previous output (blue arrows); above: its greedy choice and its p")  # fmt: skip
        ax.set_title(f"{run.mode}: {how}" + ("; red lines: attention" if run.attention else ""), fontsize=8,
                     loc="left")  # fmt: skip
    if title:
        fig.suptitle(title, fontsize=9, x=0.01, ha="left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)

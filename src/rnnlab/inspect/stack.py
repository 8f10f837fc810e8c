"""The deep (stacked) and bidirectional recurrent network, unrolled over time: the chapter's figure.

Layer l at step t reads the layer below at the same step and its own state at the previous step (the
forward direction) or at the next step (the backward direction); a bidirectional layer's output at t is
the concatenation [h→_t; h←_t], which is what the next layer (or the output y_t) reads:

    h→(l)_t = f(W x(l)_t + U h→(l)_{t-1}),  h←(l)_t = f(W' x(l)_t + U' h←(l)_{t+1}),  x(l+1)_t = [h→(l)_t; h←(l)_t]

`draw_stack(layers, bidirectional, tokens, path)` draws exactly that; `layer_shape(model)` reads the number
of layers, the direction and the cell of a trained model's first recurrent layer, so the picture can be of a
real model (`rnnlab inspect unroll --ckpt RUN`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import nn

from rnnlab.errors import UserError

MAX_STEPS = 16  # columns drawn; more are unreadable


@dataclass
class LayerShape:
    layers: int
    bidirectional: bool
    cell: str
    where: str  # the module's name in the model


def layer_shape(model: nn.Module) -> LayerShape:
    """The first recurrent layer of `model` (torch-compatible: num_layers, bidirectional)."""
    if not isinstance(model, nn.Module):
        raise UserError(f"a {type(model).__name__} has no recurrent layer to draw")
    for name, module in model.named_modules():
        layer_like = hasattr(module, "num_layers") and hasattr(module, "bidirectional") and (
            hasattr(module, "mode") or hasattr(module, "cell"))  # torch's and rnnlab's layers, not their wrappers
        if isinstance(module, nn.RNNBase) or layer_like:
            cell = getattr(module, "mode", None) or type(getattr(module, "cell", module)).__name__
            return LayerShape(int(module.num_layers), bool(module.bidirectional), str(cell).lower(), name or "model")
    raise UserError(f"{type(model).__name__} has no recurrent layer to draw")


def draw_stack(layers: int, bidirectional: bool, tokens: list[str], path: str | Path, cell: str = "rnn",
               title: str = "") -> None:  # fmt: skip
    """The unrolled network as a picture (PNG, SVG or PDF by the suffix of `path`)."""
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    if not 1 <= len(tokens) <= MAX_STEPS:
        raise UserError(f"expected 1 to {MAX_STEPS} input tokens to draw, got {len(tokens)}")
    rows = layers * (2 if bidirectional else 1)
    fig = Figure(figsize=(1.4 * len(tokens) + 2.5, 1.0 * rows + 2.4))
    ax = fig.subplots()
    ax.set_xlim(-1.6, len(tokens))
    ax.set_ylim(-1.0, rows + 1.2)
    ax.axis("off")

    def arrow(start, end, colour="#333", rad=0.0) -> None:
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=8, color=colour, lw=0.9,
                                     connectionstyle=f"arc3,rad={rad}"))  # fmt: skip

    def box(x, y, label, colour) -> None:
        ax.add_patch(FancyBboxPatch((x - 0.3, y - 0.22), 0.6, 0.44, boxstyle="round,pad=0.02", fc=colour, ec="#333"))
        ax.text(x, y, label, ha="center", va="center", fontsize=7)

    row_of = []  # (layer, direction) per row, bottom up
    for layer in range(layers):
        row_of += [(layer, 0)] + ([(layer, 1)] if bidirectional else [])
    for t, token in enumerate(tokens):
        ax.text(t, -0.6, token, ha="center", va="center", fontsize=9)
        ax.text(t, rows + 0.7, f"y{t + 1}", ha="center", va="center", fontsize=8)
    for row, (layer, direction) in enumerate(row_of):
        y = row + 0.2
        colour = "#cfe2f3" if direction == 0 else "#fde9c9"
        ax.text(-1.0, y, f"layer {layer + 1}\n{'→' if direction == 0 else '←'}", ha="center", va="center", fontsize=7)
        for t in range(len(tokens)):
            box(t, y, f"h{'→←'[direction]}{layer + 1},{t + 1}", colour)
            nxt = t + 1 if direction == 0 else t - 1
            if 0 <= nxt < len(tokens):  # the recurrence: along time, in this row's direction
                arrow((t + (0.3 if direction == 0 else -0.3), y), (nxt + (-0.3 if direction == 0 else 0.3), y))
            # what this row reads: the input, or both directions of the layer below (their concatenation)
            sources = [-0.6 + 0.15] if layer == 0 else [r + 0.2 + 0.22 for r, (below, _) in enumerate(row_of) if below == layer - 1]
            for k, source_y in enumerate(sources):
                arrow((t - 0.12 + 0.24 * k if len(sources) > 1 else t, source_y), (t, y - 0.22), colour="#777",
                      rad=0.0 if len(sources) == 1 else 0.15)  # fmt: skip
    top_rows = [r for r, (top, _) in enumerate(row_of) if top == layers - 1]
    for t in range(len(tokens)):
        for k, r in enumerate(top_rows):
            arrow((t, r + 0.42), (t, rows + 0.55), colour="#555", rad=0.0 if len(top_rows) == 1 else (0.15 if k else -0.15))
    what = f"{layers}-layer {'bidirectional ' if bidirectional else ''}{cell.upper()}, unrolled over {len(tokens)} steps"
    fig.suptitle(title or what, fontsize=9, x=0.01, ha="left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)

"""Draw a cell with its gates labelled, from the parameterisation the code uses.

The gate names, their order in the stacked weight matrices and each gate's one-line role are read from
the cell class (`gate_names`, the shapes of `weight_ih` / `weight_hh`) and from `rnnlab.nn.GATE_ROLES`,
so the picture cannot drift from the code: the LSTM's rows are i|f|g|o, the GRU's r|z|n with torch's
candidate n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)).
"""

from __future__ import annotations

from pathlib import Path

from rnnlab.inspect.cells import check_name, make_cell
from rnnlab.nn import GATE_ROLES

DRAWN_CELLS = ("rnn", "lstm", "gru")  # the cells `_draw` has a hand-made picture (and GATE_ROLES) for

GATE_COLORS = {
    "i": "#9ecae1",
    "f": "#fdae6b",
    "g": "#a1d99b",
    "o": "#bcbddc",
    "r": "#fdae6b",
    "z": "#9ecae1",
    "n": "#a1d99b",
    "h": "#a1d99b",
}
GATE_TITLES = {
    "i": "input gate",
    "f": "forget gate",
    "g": "candidate",
    "o": "output gate",
    "r": "reset gate",
    "z": "update gate",
    "n": "candidate",
    "h": "hidden state",
}


def weight_layout(cell_name: str, hidden_size: int = 4, input_size: int = 3) -> list[str]:
    """The gates in the order the code stacks them in W_ih / W_hh (block k = rows kH:(k+1)H)."""
    cell = make_cell(cell_name, input_size, hidden_size)
    stacked = [g for g in cell.gate_names if g not in ("c", "h")] or ["h"]
    rows = cell.weight_ih.shape[0] // hidden_size
    if rows != len(stacked):
        raise AssertionError(f"{cell_name}: weight_ih has {rows} blocks for gates {stacked}")
    return stacked


def _draw(ax, cell: str) -> None:
    def box(xy, gate, act):
        ax.text(
            *xy,
            f"{act}\n{gate}",
            ha="center",
            va="center",
            fontsize=12,
            zorder=3,
            bbox=dict(boxstyle="round,pad=0.45", fc=GATE_COLORS.get(gate, "white"), ec="#333333"),
        )

    def op(xy, symbol):
        ax.text(
            *xy,
            symbol,
            ha="center",
            va="center",
            fontsize=13,
            zorder=3,
            bbox=dict(boxstyle="circle,pad=0.2", fc="#fff7bc", ec="#333333"),
        )

    def arrow(a, b, color="#333333", style="-|>"):
        ax.annotate(
            "",
            xy=b,
            xytext=a,
            arrowprops=dict(arrowstyle=style, color=color, lw=1.4, shrinkA=11, shrinkB=11),
            zorder=2,
        )

    def label(xy, text, **kw):
        ax.text(*xy, text, ha="center", va="center", fontsize=12, **kw)

    if cell == "lstm":
        label((0.2, 4), "$c_{t-1}$")
        label((0.2, 0.3), "$h_{t-1}$")
        label((1.2, -0.6), "$x_t$")
        op((2, 4), "×")
        op((4, 4), "+")
        op((4, 3), "×")
        op((6, 2.6), "×")
        ax.text(
            6,
            3.5,
            "tanh",
            ha="center",
            va="center",
            fontsize=10,
            zorder=3,
            bbox=dict(boxstyle="round", fc="white", ec="#333333"),
        )
        box((2, 1.5), "f", "σ")
        box((3.3, 1.5), "i", "σ")
        box((4.6, 1.5), "g", "tanh")
        box((5.9, 1.5), "o", "σ")
        label((7.4, 4), "$c_t$")
        label((7.4, 2.6), "$h_t$")
        ax.plot([0.5, 6.0], [0.3, 0.3], color="#333333", lw=1.4)
        ax.plot([1.2, 1.2], [-0.4, 0.3], color="#333333", lw=1.4)
        for x in (2, 3.3, 4.6, 5.9):
            arrow((x, 0.3), (x, 1.5))
        arrow((0.45, 4), (2, 4)), arrow((2, 4), (4, 4)), arrow((4, 4), (7.2, 4))
        arrow((2, 1.5), (2, 4)), arrow((3.3, 1.5), (4, 3)), arrow((4.6, 1.5), (4, 3)), arrow((4, 3), (4, 4))
        (
            arrow((5.3, 4), (6, 3.5)),
            arrow((6, 3.5), (6, 2.6)),
            arrow((5.9, 1.5), (6, 2.6)),
            arrow((6, 2.6), (7.2, 2.6)),
        )
        ax.text(3.0, 4.45, "memory cell $c_t = f \\odot c_{t-1} + i \\odot g$", fontsize=10, ha="center")
        ax.text(6.5, 2.1, "$h_t = o \\odot \\tanh(c_t)$", fontsize=10)
    elif cell == "gru":
        label((0.2, 4), "$h_{t-1}$")
        label((1.0, -0.6), "$x_t$")
        op((3.3, 4), "×")
        op((5.6, 4), "+")
        op((5.6, 3), "×")
        op((3.0, 2.4), "×")
        ax.text(
            4.3,
            3.0,
            "1−",
            ha="center",
            va="center",
            fontsize=10,
            zorder=3,
            bbox=dict(boxstyle="round", fc="white", ec="#333333"),
        )
        box((2.0, 1.4), "r", "σ")
        box((3.3, 1.4), "z", "σ")
        box((4.6, 1.4), "n", "tanh")
        label((7.0, 4), "$h_t$")
        ax.plot([0.6, 0.6], [0.3, 4.0], color="#333333", lw=1.4)
        ax.plot([0.6, 4.6], [0.3, 0.3], color="#333333", lw=1.4)
        ax.plot([1.0, 1.0], [-0.4, 0.3], color="#333333", lw=1.4)
        for x in (2.0, 3.3, 4.6):
            arrow((x, 0.3), (x, 1.4))
        arrow((0.5, 4), (3.3, 4)), arrow((3.3, 4), (5.6, 4)), arrow((5.6, 4), (6.8, 4))
        arrow((3.3, 1.4), (3.3, 4)), arrow((3.3, 1.4), (4.3, 3.0)), arrow((4.3, 3.0), (5.6, 3))
        arrow((4.6, 1.4), (5.6, 3)), arrow((5.6, 3), (5.6, 4))
        arrow((2.0, 1.4), (3.0, 2.4)), arrow((0.6, 2.4), (3.0, 2.4)), arrow((3.0, 2.4), (4.6, 1.4))
        ax.text(1.0, 2.65, "$W_{hn} h_{t-1} + b_{hn}$", fontsize=9)
        ax.text(
            4.2,
            4.45,
            "$h_t = (1-z) \\odot n + z \\odot h_{t-1}$   (no separate memory cell)",
            fontsize=10,
            ha="center",
        )
    else:
        label((0.2, 2), "$h_{t-1}$")
        label((2.5, -0.6), "$x_t$")
        box((2.5, 2), "h", "tanh")
        label((5.0, 2), "$h_t$")
        arrow((0.5, 2), (2.5, 2)), arrow((2.5, -0.4), (2.5, 2)), arrow((2.5, 2), (4.8, 2))
        ax.text(
            2.5,
            3.3,
            "$h_t = \\tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})$",
            fontsize=11,
            ha="center",
        )
    ax.set_xlim(-0.3, 7.8)
    ax.set_ylim(-1.0, 5.0)
    ax.axis("off")


def draw_cell(cell: str, path: str | Path, hidden_size: int = 4) -> list[str]:
    """Write the labelled diagram of `cell` to `path` (PNG or SVG by suffix); returns the legend lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cell = check_name(cell, DRAWN_CELLS)
    built = make_cell(cell, 3, hidden_size)
    roles = GATE_ROLES[cell]
    layout = weight_layout(cell, hidden_size)
    lines = [
        f"{type(built).__module__}.{type(built).__name__}: W_ih {tuple(built.weight_ih.shape)}, "
        f"W_hh {tuple(built.weight_hh.shape)} stack the blocks {'|'.join(layout)} "
        f"(H = {hidden_size})"
    ]
    for gate in built.gate_names:
        title = GATE_TITLES.get(gate, gate) if gate != "c" else "memory cell"
        if cell == "rnn" or gate not in ("c", "h"):
            lines.append(f"{gate}  {title}: {roles[gate].split(': ', 1)[-1]}")
        else:
            lines.append(f"{gate}  {roles[gate]}")
    fig, (ax, text_ax) = plt.subplots(1, 2, figsize=(14, 5.2), gridspec_kw=dict(width_ratios=[1.0, 1.05]))
    _draw(ax, cell)
    ax.set_title(
        {"lstm": "LSTM cell", "gru": "GRU cell", "rnn": "simple (Elman) RNN cell"}[cell], fontsize=13
    )
    text_ax.axis("off")
    y = 0.97
    for number, line in enumerate(lines):
        text_ax.text(
            0.0,
            y,
            line,
            fontsize=10 if number else 9,
            va="top",
            wrap=True,
            family="monospace" if number == 0 else None,
            bbox=dict(fc=GATE_COLORS.get(line[0], "white"), ec="none", alpha=0.5) if number else None,
        )
        y -= 0.12 if number else 0.16
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return lines

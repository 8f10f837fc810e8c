"""Message passing, step by step, from a trained graph model: what each node knows after t steps.

The chapter's message-passing network updates every node from its neighbours T times,
h_t^(v) = g(h_{t-1}^(v), Σ_{u∈N(v)} f(h_{t-1}^(v), h_{t-1}^(u), e^(u,v))), so after t steps a node has heard from
nodes up to t edges away. `message_passing_steps` runs a trained `mpnn` model and keeps h_0 .. h_T; the picture
draws the graph once per step:

- a node-level model (the karate club): each node coloured by the head's answer *if the network stopped at
  step t* (the probability of the second faction), the two labelled leaders ringed. The head was trained on
  h_T only, so earlier panels read states it was never trained on: they show what each state already says.
  (A member's input is its row of the friendship matrix, so step 0 already knows its direct friends; each
  step adds one more ring of friends.)
- a graph-level model (a molecule from `--smiles`): each atom coloured by ‖h_t^(v)‖ (its state's norm),
  the bonds drawn; the readout's answer after the last step in the title.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rnnlab.errors import UserError


@dataclass
class PassingSteps:
    """Node values per step for one graph: values[t] (N,), t = 0 .. T, and what they mean."""

    values: list[np.ndarray]
    meaning: str  # "P(<second class>)" or "‖h‖"
    senders: np.ndarray
    receivers: np.ndarray
    labels: list[str]  # a label per node (member number or element)
    ringed: list[int]  # nodes to ring (the labelled members)
    title: str


@torch.no_grad()
def message_passing_steps(predictor, graphs, labels: list[str], ringed: list[int], title: str) -> PassingSteps:
    """Run the model keeping every step's node states; node-level: the head applied to each step."""
    model = predictor.model.eval()
    if model.kind != "mpnn":
        raise UserError("inspect graph draws the message-passing network's steps (model.kind: mpnn); this model is "
                        f"an {model.kind!r} (encode-process-decode)")  # fmt: skip
    from rnnlab.train.batches import move_to

    graphs = move_to(graphs, predictor.device)
    steps: list[torch.Tensor] = []  # h_0 .. h_T
    final = model.network(graphs, steps)
    if model.level == "node":
        classes = getattr(predictor.codec, "classes", None) or ["class 0", "class 1"]
        values = [model.head(h).softmax(-1)[:, -1].cpu().numpy() for h in steps]
        meaning = f"P({classes[-1]})"
    else:
        values = [h.norm(dim=-1).cpu().numpy() for h in steps]
        meaning = "‖h‖"
        answer = float(model.head(graphs, final).reshape(-1)[0]) * predictor.codec.std + predictor.codec.mean
        title = f"{title}  (the readout after step {len(steps) - 1}: {answer:.3f})"
    return PassingSteps(values, meaning, graphs.senders.cpu().numpy(), graphs.receivers.cpu().numpy(), labels,
                        ringed, title)  # fmt: skip


def draw_steps(steps: PassingSteps, path: str | Path, seed: int = 0) -> None:
    """One panel per step, the same layout in each (networkx spring layout, seeded). PNG/SVG/PDF by suffix."""
    import networkx as nx
    from matplotlib.figure import Figure

    graph = nx.Graph()
    graph.add_nodes_from(range(len(steps.labels)))
    graph.add_edges_from(zip(steps.senders.tolist(), steps.receivers.tolist()))
    layout = nx.spring_layout(graph, seed=seed)
    count = len(steps.values)
    columns = min(count, 4)
    rows = (count + columns - 1) // columns
    fig = Figure(figsize=(3.6 * columns, 3.4 * rows + 0.4))
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    shared = steps.meaning.startswith("P(")
    high = 1.0 if shared else max(float(v.max()) for v in steps.values) or 1.0
    for t, ax in enumerate(axes):
        ax.axis("off")
        if t >= count:
            continue
        nx.draw_networkx_edges(graph, layout, ax=ax, alpha=0.3, width=0.8)
        nodes = nx.draw_networkx_nodes(graph, layout, ax=ax, node_size=120, node_color=steps.values[t],
                                       cmap="coolwarm" if shared else "viridis", vmin=0.0, vmax=high)  # fmt: skip
        if steps.ringed:
            nx.draw_networkx_nodes(graph, layout, nodelist=steps.ringed, ax=ax, node_size=260, node_color="none",
                                   edgecolors="black", linewidths=1.5)  # fmt: skip
        nx.draw_networkx_labels(graph, layout, labels=dict(enumerate(steps.labels)), ax=ax, font_size=6)
        ax.set_title(f"step {t}" + (" (the embedded inputs)" if t == 0 else ""), fontsize=8)
        if t == count - 1:
            fig.colorbar(nodes, ax=ax, fraction=0.04, label=steps.meaning)
    fig.suptitle(steps.title, fontsize=9, x=0.01, ha="left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)

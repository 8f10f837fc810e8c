"""One full GN block step, drawn from a trained model: the edge, node and global updates (Battaglia et al.
2018, Fig. 3/4; the chapter's figure).

    e'_k = φᵉ(e_k, v_{r_k}, v_{s_k}, u)      (b) every edge from its own value, its receiver, sender and the global
    v'_i = φᵛ(ρ(e' into i), v_i, u)         (c) every node from its incoming new edges, aggregated, itself, the global
    u'   = φᵘ(ρ(all e'), ρ(all v'), u)       (d) the global from all new edges and all new nodes, aggregated

`capture_gn_step` runs the real model with forward hooks on its `GNBlock`'s three updates (and pre-hooks on
φᵛ and φᵘ, whose inputs hold the aggregations ρ), so every value drawn is a tensor the block itself computed,
nothing re-implemented. An encode-process-decode model (`model.kind: gn`) applies its core block T times to
[encoded, latent]; the drawing shows one application (the first by default), its input being that
application's input. Each node's and edge's vector is drawn as the colour of its first principal component
(over the graph's nodes, or edges, of that tensor): the GN's MLPs end in a LayerNorm, so every norm would be
about the same. The global's vectors are drawn as strips of their components.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from rnnlab.errors import UserError
from rnnlab.nn.graph import GNBlock, Graphs

__all__ = ["GNStep", "capture_gn_step", "draw_gn_step", "first_component", "gn_model_step"]


@dataclass
class GNStep:
    """One application of a GN block to one graph: the captured tensors, their norms and what to draw.

    tensors: "nodes_in" (N, F_v), "edges_in" (E, F_e), "globals_in" (1, F_u): the block's input;
    "edges" (E, F_e'): e'; "received" (N, F_e'): ρ(e' into i); "nodes" (N, F_v'): v';
    "edge_pool" (1, F_e'), "node_pool" (1, F_v'): ρ(all e'), ρ(all v'); "globals" (1, F_u'): u'.
    A switched-off input (a `use_*` false) is absent.
    """

    tensors: dict[str, torch.Tensor]
    senders: np.ndarray
    receivers: np.ndarray
    labels: list[str]
    title: str
    application: int = 0  # which call of the block (0: the first)
    calls: int = 1  # how many times the forward pass applied it
    positions: np.ndarray | None = None  # (N, 2) a layout to use (a physics system's positions)
    norms: dict[str, np.ndarray] = field(init=False)  # each row's ‖·‖
    values: dict[str, np.ndarray] = field(init=False)  # each row's first principal component: what is drawn

    def __post_init__(self) -> None:
        self.norms = {name: tensor.norm(dim=-1).cpu().numpy() for name, tensor in self.tensors.items()}
        self.values = {name: first_component(tensor) for name, tensor in self.tensors.items()}


def _columns(tensor: torch.Tensor, use: tuple[bool, ...], widths: tuple[int, ...], names: tuple[str, ...]):
    """The parts of a φ input made by concatenating the switched-on inputs in order."""
    parts, start = {}, 0
    for on, width, name in zip(use, widths, names):
        if on:
            parts[name] = tensor[:, start : start + width]
            start += width
    return parts


@torch.no_grad()
def capture_gn_step(block: GNBlock, run: Callable[[], object], application: int = 0) -> tuple[dict, int]:
    """Call `run()` (a forward pass that applies `block` one or more times) with hooks on the block's updates;
    returns the tensors of its `application`-th call (the names of `GNStep.tensors`) and the number of calls."""
    calls: list[dict[str, torch.Tensor]] = []

    def on_edge(module, args, output: Graphs) -> None:
        graphs = args[0]
        calls.append({"nodes_in": graphs.nodes, "edges_in": graphs.edges, "globals_in": graphs.globals,
                      "edges": output.edges})  # fmt: skip

    def on_node_input(module, args) -> None:  # φᵛ's input [ρ(e' in), ρ(e' out), v, u]
        node = block.node
        widths = (calls[-1]["edges"].shape[1],) * 2 + (calls[-1]["nodes_in"].shape[1], calls[-1]["globals_in"].shape[1])
        parts = _columns(args[0], node.use, widths, ("received", "sent", "_", "_"))
        calls[-1].update({key: value for key, value in parts.items() if key != "_"})

    def on_node(module, args, output: Graphs) -> None:
        calls[-1]["nodes"] = output.nodes

    def on_global_input(module, args) -> None:  # φᵘ's input [ρ(all e'), ρ(all v'), u]
        last = calls[-1]
        widths = (last["edges"].shape[1], last["nodes"].shape[1], last["globals_in"].shape[1])
        parts = _columns(args[0], block.globals.use, widths, ("edge_pool", "node_pool", "_"))
        last.update({key: value for key, value in parts.items() if key != "_"})

    def on_global(module, args, output: Graphs) -> None:
        calls[-1]["globals"] = output.globals

    handles = [block.edge.register_forward_hook(on_edge), block.node.phi.register_forward_pre_hook(on_node_input),
               block.node.register_forward_hook(on_node), block.globals.phi.register_forward_pre_hook(on_global_input),
               block.globals.register_forward_hook(on_global)]  # fmt: skip
    try:
        run()
    finally:
        for handle in handles:
            handle.remove()
    if not calls:
        raise UserError("inspect graph: the model's forward pass never applied its GN block")
    if not 0 <= application < len(calls):
        raise UserError(f"inspect graph: the GN block was applied {len(calls)} times; no application {application + 1}")
    return {key: value.detach().cpu() for key, value in calls[application].items()}, len(calls)


def gn_model_step(predictor, graphs: Graphs, labels: list[str], title: str, positions: np.ndarray | None = None,
                  application: int = 0) -> GNStep:  # fmt: skip
    """The core GN block of a trained encode-process-decode model (`model.kind: gn`), captured on one graph."""
    model = predictor.model.eval()
    if model.kind != "gn":
        raise UserError(f"inspect graph: a GN step is drawn for model.kind gn; this model is {model.kind!r}")
    from rnnlab.train.batches import move_to

    graphs = move_to(graphs, predictor.device)
    tensors, calls = capture_gn_step(model.network.core, lambda: model(graphs), application)
    return GNStep(tensors, graphs.senders.cpu().numpy(), graphs.receivers.cpu().numpy(), labels,
                  f"{title}  (core GN block, application {application + 1} of {calls})", application, calls,
                  positions)  # fmt: skip


def first_component(rows: torch.Tensor) -> np.ndarray:
    """(M,) each row of `rows` (M, F) as its coordinate along the rows' first principal direction (centred;
    the sign chosen so that the largest |value| is positive); zeros for fewer than two distinct rows."""
    centred = rows.double() - rows.double().mean(0)
    if len(centred) < 2 or not bool(centred.abs().max() > 1e-12):
        return np.zeros(len(rows))
    _, _, vh = torch.linalg.svd(centred, full_matrices=False)
    values = centred @ vh[0]
    return (values if values[values.abs().argmax()] >= 0 else -values).numpy()


def draw_gn_step(step: GNStep, path: str | Path, seed: int = 0) -> None:
    """Four panels, the same layout in each: (a) the input, (b) the edge update, (c) the node update, (d) the
    global update. Nodes and edges are coloured by their vectors' first principal component (`step.values`,
    each divided by its largest |value|: the GN's MLPs end in LayerNorm, so norms would all be alike); the
    global's vectors are drawn as strips of their components. PNG/SVG/PDF by the suffix of `path`."""
    import networkx as nx
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    cmap, count = colormaps["coolwarm"], len(step.labels)
    graph = nx.DiGraph()
    graph.add_nodes_from(range(count))
    pairs = list(zip(step.senders.tolist(), step.receivers.tolist()))
    graph.add_edges_from(pairs)
    if step.positions is not None:
        layout = {i: tuple(p) for i, p in enumerate(np.asarray(step.positions, dtype=float))}
    else:
        layout = nx.spring_layout(graph.to_undirected(), seed=seed)

    def scaled(name: str) -> np.ndarray:
        values = step.values[name]
        high = float(np.abs(values).max()) if values.size else 0.0
        return values / high if high > 0 else values

    def edges(ax, name: str | None = None, alpha: float = 1.0) -> None:
        if not pairs:
            return
        colour = "0.8" if name is None else scaled(name)
        nx.draw_networkx_edges(graph, layout, edgelist=pairs, ax=ax, edge_color=colour, edge_cmap=cmap,
                               edge_vmin=-1, edge_vmax=1, width=0.8 if name is None else 1.8, alpha=alpha,
                               connectionstyle="arc3,rad=0.12", arrows=True, arrowsize=7, node_size=160)  # fmt: skip

    def nodes(ax, name: str | None = None, ring: str | None = None, alpha: float = 1.0) -> None:
        colour = {"node_color": "0.85"} if name is None else {"node_color": scaled(name), "cmap": cmap, "vmin": -1,
                                                               "vmax": 1}  # fmt: skip
        rim = "0.4" if ring is None or ring not in step.values else cmap((scaled(ring) + 1) / 2)
        nx.draw_networkx_nodes(graph, layout, ax=ax, alpha=alpha, edgecolors=rim, linewidths=1 if ring is None else 3,
                               node_size=160, **colour)  # fmt: skip
        nx.draw_networkx_labels(graph, layout, labels=dict(enumerate(step.labels)), ax=ax, font_size=6)

    fig = Figure(figsize=(17, 5.2))
    mosaic = fig.subplot_mosaic([["a", "b", "c", "u"], ["a", "b", "c", "d"]], height_ratios=[1, 3.2])
    axes = [mosaic[key] for key in "abcd"]
    norms = step.norms

    def norm(name: str) -> str:
        return f"{float(norms[name][0]):.2f}" if name in norms and norms[name].size else "-"

    edges(axes[0], "edges_in")
    nodes(axes[0], "nodes_in")
    axes[0].set_title(f"(a) the block's input: nodes v, edges e\n(global ‖u‖ = {norm('globals_in')})", fontsize=8)
    edges(axes[1], "edges")
    nodes(axes[1])
    axes[1].set_title("(b) edge update: e'_k = φᵉ(e_k, v_r, v_s, u)\n(each edge from its receiver, sender, itself, u)",
                      fontsize=8)  # fmt: skip
    edges(axes[2])
    nodes(axes[2], "nodes", ring="received")
    axes[2].set_title("(c) node update: v'_i = φᵛ(ρ(e' into i), v_i, u)\n(fill: v'_i, ring: ρ(e' into i))", fontsize=8)
    edges(axes[3], "edges", alpha=0.3)
    nodes(axes[3], "nodes", alpha=0.4)
    axes[3].set_title(f"(d) global update: u' = φᵘ(ρ(all e'), ρ(all v'), u)\n‖ρ e'‖ = {norm('edge_pool')}, "
                      f"‖ρ v'‖ = {norm('node_pool')}, ‖u‖ = {norm('globals_in')} → ‖u'‖ = {norm('globals')}",
                      fontsize=8)  # fmt: skip
    strips = [(label, step.tensors[name][0].double().numpy()) for label, name in
              (("ρ(all e')", "edge_pool"), ("ρ(all v')", "node_pool"), ("u", "globals_in"), ("u'", "globals"))
              if name in step.tensors and step.tensors[name].shape[1]]  # fmt: skip
    if strips:
        width = max(len(row) for _, row in strips)
        matrix = np.full((len(strips), width), np.nan)
        for i, (_, row) in enumerate(strips):
            high = float(np.abs(row).max())
            matrix[i, : len(row)] = row / high if high > 0 else row
        inset = mosaic["u"]
        inset.imshow(matrix, cmap=cmap, vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
        inset.set_yticks(range(len(strips)), [label for label, _ in strips], fontsize=6)
        inset.set_xticks([])
        inset.set_xlabel("components (each row / its largest |value|)", fontsize=6)
        inset.set_title(axes[3].get_title(), fontsize=8)
        axes[3].set_title("")
    else:
        mosaic["u"].axis("off")
    for ax in axes:
        ax.axis("off")
        ax.margins(0.1)
    fig.colorbar(ScalarMappable(Normalize(-1, 1), cmap), ax=list(mosaic.values()), fraction=0.015, pad=0.01,
                 label="first principal component / its largest |value|")  # fmt: skip
    fig.suptitle(step.title, fontsize=9, x=0.01, ha="left")
    fig.savefig(path, dpi=110, bbox_inches="tight")

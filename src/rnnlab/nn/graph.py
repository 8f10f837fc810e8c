"""Graph networks (Battaglia et al. 2018, arXiv 1806.01261): a batched-graph container, rnnlab's own
aggregation, the GN block (edge, node and global updates), the chapter's message-passing network with its
readout, and encode-process-decode.

    graphs = concat_graphs([graph_from_tensors(nodes, senders, receivers, edges), ...])   # one batch
    block = GNBlock(graphs.sizes, GraphSizes(node=16, edge=16, globals=16))
    out = block(graphs)                                   # a Graphs with updated edges, nodes and globals

The GN block's three updates, for every graph (one batch of many graphs at once):

    e'_k = φᵉ(e_k, v_{r_k}, v_{s_k}, u)              edge update: each edge with its receiver, sender, global
    ē'_i = ρ^{e→v}({e'_k : r_k = i})                 edges into node i, aggregated (sum / mean / max)
    v'_i = φᵛ(ē'_i, v_i, u)                          node update
    ē' = ρ^{e→u}(E'),  v̄' = ρ^{v→u}(V')              all edges, all nodes of the graph, aggregated
    u' = φᵘ(ē', v̄', u)                               global update

φᵉ, φᵛ, φᵘ are made by small factory callables `(in_features, out_features) -> nn.Module` (default: an MLP),
and `use_*` switches leave inputs out. The chapter's message passing is the special case without globals:

    m_t^(v) = Σ_{u ∈ N(v)} f(h_{t-1}^(v), h_{t-1}^(u), e^(u,v)),   h_t^(v) = g(h_{t-1}^(v), m_t^(v)),
    y = R({h_T^(v) | v ∈ V})

Conventions: an edge k goes from `senders[k]` to `receivers[k]` (an undirected graph has both directions);
N(v) are the senders of the edges into v. Empty graphs (no nodes), graphs without edges, self-loops and
multi-edges are allowed: an aggregation over nothing is 0 (sum, mean and max alike), a self-loop is an
ordinary edge whose sender is its receiver, and each of several parallel edges sends its own message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
from torch import nn

from rnnlab.errors import DataError

__all__ = ["GNBlock", "EdgeBlock", "EncodeProcessDecode", "GraphModel", "GraphModelConfig", "Graphs", "GraphReadout", "GraphSizes", "GlobalBlock",
           "MessagePassing", "NodeBlock", "Reduce", "aggregate", "check_graphs", "concat_graphs",
           "graph_from_networkx", "graph_from_tensors", "mlp", "mlp_factory", "split_graphs"]  # fmt: skip

Reduce = Literal["sum", "mean", "max"]
Factory = Callable[[int, int], nn.Module]


# -------------------------------------------------------------------------------------------- container
class GraphSizes(NamedTuple):
    """Feature widths of a batch: node, edge and global features per element."""

    node: int
    edge: int
    globals: int


class Graphs(NamedTuple):
    """A batch of G graphs with N nodes and E edges in all (graph_nets' `GraphsTuple`).

    nodes: (N, F_v) float; edges: (E, F_e) float; globals: (G, F_u) float;
    senders, receivers: (E,) long, node indices into the whole batch (a graph's edges join its own nodes);
    n_node, n_edge: (G,) long, each graph's node and edge counts (the nodes and edges of graph g follow those
    of graphs 0..g-1). A NamedTuple of tensors, so `rnnlab.train.batches.move_to` moves it to a device.
    """

    nodes: torch.Tensor
    edges: torch.Tensor
    globals: torch.Tensor
    senders: torch.Tensor
    receivers: torch.Tensor
    n_node: torch.Tensor
    n_edge: torch.Tensor

    @property
    def num_graphs(self) -> int:
        return int(self.n_node.shape[0])

    @property
    def sizes(self) -> GraphSizes:
        return GraphSizes(self.nodes.shape[1], self.edges.shape[1], self.globals.shape[1])

    def node_graph(self) -> torch.Tensor:
        """(N,) the graph of each node."""
        return torch.repeat_interleave(torch.arange(self.num_graphs, device=self.n_node.device), self.n_node)

    def edge_graph(self) -> torch.Tensor:
        """(E,) the graph of each edge."""
        return torch.repeat_interleave(torch.arange(self.num_graphs, device=self.n_edge.device), self.n_edge)


def check_graphs(graphs: Graphs, where: str = "graphs") -> Graphs:
    """`graphs` unchanged if its shapes, counts and indices agree; else a DataError that says what is wrong."""
    nodes, edges, globals_, senders, receivers, n_node, n_edge = graphs
    for name, tensor in (("nodes", nodes), ("edges", edges), ("globals", globals_)):
        if tensor.dim() != 2:
            raise DataError(f"{where}: {name} must be 2-D (count, features), got shape {tuple(tensor.shape)}")
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise DataError(f"{where}: {name} hold NaN or infinite values")
    for name, tensor in (("senders", senders), ("receivers", receivers), ("n_node", n_node), ("n_edge", n_edge)):
        if tensor.dim() != 1 or tensor.dtype != torch.long:
            raise DataError(f"{where}: {name} must be a 1-D long tensor, got {tensor.dtype} {tuple(tensor.shape)}")
    if bool((n_node < 0).any()) or bool((n_edge < 0).any()):
        raise DataError(f"{where}: n_node and n_edge must not be negative")
    if not (len(n_node) == len(n_edge) == len(globals_)):
        raise DataError(f"{where}: {len(n_node)} node counts, {len(n_edge)} edge counts and {len(globals_)} "
                        "global rows: expected one of each per graph")  # fmt: skip
    if int(n_node.sum()) != len(nodes):
        raise DataError(f"{where}: n_node sums to {int(n_node.sum())} but there are {len(nodes)} node rows")
    if not (int(n_edge.sum()) == len(edges) == len(senders) == len(receivers)):
        raise DataError(f"{where}: n_edge sums to {int(n_edge.sum())}, with {len(edges)} edge rows, "
                        f"{len(senders)} senders and {len(receivers)} receivers: expected all equal")  # fmt: skip
    if len(senders):
        # each edge's ends must be nodes of its own graph
        graph = graphs.edge_graph()
        starts = torch.cumsum(n_node, 0) - n_node
        low, high = starts[graph], starts[graph] + n_node[graph]
        for name, index in (("senders", senders), ("receivers", receivers)):
            bad = ((index < low) | (index >= high)).nonzero()
            if len(bad):
                k = int(bad[0])
                raise DataError(f"{where}: {name}[{k}] = {int(index[k])} is out of range: edge {k} belongs to "
                                f"graph {int(graph[k])}, whose nodes are {int(low[k])}..{int(high[k]) - 1}")  # fmt: skip
    return graphs


def graph_from_tensors(nodes: torch.Tensor, senders: Sequence[int] | torch.Tensor,
                       receivers: Sequence[int] | torch.Tensor, edges: torch.Tensor | None = None,
                       globals_: torch.Tensor | None = None, where: str = "graph", check: bool = True) -> Graphs:  # fmt: skip
    """One graph: nodes (N, F_v), senders / receivers (E,) in 0..N-1, edges (E, F_e) (default: no features,
    width 0), globals (F_u,) or (1, F_u) (default: width 0). Checked (`check_graphs`) unless `check` is
    false (a graph built from a model's own outputs, e.g. a rollout, whose NaN should show as a NaN metric)."""
    senders = torch.as_tensor(senders, dtype=torch.long).reshape(-1)
    receivers = torch.as_tensor(receivers, dtype=torch.long).reshape(-1)
    nodes = torch.as_tensor(nodes, dtype=torch.get_default_dtype())
    if nodes.dim() == 1:
        nodes = nodes.unsqueeze(1)
    if edges is None:
        edges = nodes.new_zeros(len(senders), 0)
    if globals_ is None:
        globals_ = nodes.new_zeros(1, 0)
    globals_ = torch.as_tensor(globals_, dtype=nodes.dtype).reshape(1, -1)
    graphs = Graphs(nodes, torch.as_tensor(edges, dtype=nodes.dtype), globals_, senders, receivers,
                    torch.tensor([len(nodes)]), torch.tensor([len(senders)]))  # fmt: skip
    return check_graphs(graphs, where) if check else graphs


def graph_from_networkx(graph, node_features: Callable[[object, dict], Sequence[float]] | None = None,
                        edge_features: Callable[[object, object, dict], Sequence[float]] | None = None,
                        globals_: Sequence[float] = ()) -> tuple[Graphs, list]:  # fmt: skip
    """A networkx graph as a one-graph batch and its node list (row i of `nodes` is node list[i]).

    An undirected graph gives both directions of each edge. `node_features(node, data)` and
    `edge_features(u, v, data)` give feature rows (default: none, width 0; nodes then get width 1 of ones).
    """
    order = list(graph.nodes)
    index = {node: i for i, node in enumerate(order)}
    pairs = list(graph.edges(data=True))
    if not graph.is_directed():
        pairs += [(v, u, data) for u, v, data in pairs if u != v]
    senders = [index[u] for u, _, _ in pairs]
    receivers = [index[v] for _, v, _ in pairs]
    if node_features is None:
        nodes = torch.ones(len(order), 1)
    else:
        nodes = torch.tensor([list(node_features(n, graph.nodes[n])) for n in order], dtype=torch.float32)
        nodes = nodes.reshape(len(order), -1)
    edges = None
    if edge_features is not None:
        edges = torch.tensor([list(edge_features(u, v, d)) for u, v, d in pairs], dtype=torch.float32)
        edges = edges.reshape(len(pairs), -1)
    return graph_from_tensors(nodes, senders, receivers, edges, torch.tensor(list(globals_), dtype=torch.float32),
                              where="networkx graph"), order  # fmt: skip


def concat_graphs(graphs: Sequence[Graphs]) -> Graphs:
    """Many batches as one: features stacked, each batch's node indices shifted past the nodes before it."""
    if not graphs:
        raise DataError("concat_graphs: expected at least one graph")
    widths = {g.sizes for g in graphs}
    if len(widths) > 1:
        raise DataError(f"concat_graphs: graphs of different feature widths {sorted(widths)}")
    offsets = torch.cumsum(torch.tensor([0] + [len(g.nodes) for g in graphs[:-1]]), 0).tolist()
    return Graphs(torch.cat([g.nodes for g in graphs]), torch.cat([g.edges for g in graphs]),
                  torch.cat([g.globals for g in graphs]),
                  torch.cat([g.senders + offset for g, offset in zip(graphs, offsets)]),
                  torch.cat([g.receivers + offset for g, offset in zip(graphs, offsets)]),
                  torch.cat([g.n_node for g in graphs]), torch.cat([g.n_edge for g in graphs]))  # fmt: skip


def split_graphs(graphs: Graphs) -> list[Graphs]:
    """A batch back into one-graph batches (the inverse of `concat_graphs` on one-graph batches)."""
    n_node, n_edge = graphs.n_node.tolist(), graphs.n_edge.tolist()
    nodes, edges = graphs.nodes.split(n_node), graphs.edges.split(n_edge)
    senders, receivers = graphs.senders.split(n_edge), graphs.receivers.split(n_edge)
    out, offset = [], 0
    for g in range(graphs.num_graphs):
        out.append(Graphs(nodes[g], edges[g], graphs.globals[g : g + 1], senders[g] - offset, receivers[g] - offset,
                          graphs.n_node[g : g + 1], graphs.n_edge[g : g + 1]))  # fmt: skip
        offset += n_node[g]
    return out


# ------------------------------------------------------------------------------------------- aggregation
def aggregate(values: torch.Tensor, index: torch.Tensor, size: int, reduce: Reduce = "sum") -> torch.Tensor:
    """ρ: rows of `values` (M, F) pooled by `index` (M,) into (size, F); a target without rows gets 0.

    sum: `index_add_`; mean: the sum over the count; max: `scatter_reduce(amax)`, whose gradient goes to the
    maximal rows (split evenly between ties, as torch does).
    """
    out = values.new_zeros(size, values.shape[1])
    if reduce == "sum":
        return out.index_add_(0, index, values)
    if reduce == "mean":
        counts = values.new_zeros(size).index_add_(0, index, values.new_ones(len(index)))
        return out.index_add_(0, index, values) / counts.clamp(min=1).unsqueeze(1)
    if reduce == "max":
        expanded = index.unsqueeze(1).expand_as(values)
        return out.scatter_reduce(0, expanded, values, reduce="amax", include_self=False)
    raise ValueError(f"reduce: expected sum, mean or max, got {reduce!r}")


# ------------------------------------------------------------------------------------------- factories
def mlp(in_features: int, out_features: int, hidden: int = 64, layers: int = 2, norm: bool = False) -> nn.Module:
    """Linear → ReLU → ... → Linear (`layers` linear layers), optionally LayerNorm on the output."""
    sizes = [in_features] + [hidden] * (layers - 1) + [out_features]
    modules: list[nn.Module] = []
    for i in range(layers):
        modules.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < layers - 1:
            modules.append(nn.ReLU())
    if norm:
        modules.append(nn.LayerNorm(out_features))
    return nn.Sequential(*modules)


def mlp_factory(hidden: int = 64, layers: int = 2, norm: bool = False) -> Factory:
    """A factory `(in_features, out_features) -> MLP` for the blocks' φ functions."""
    return lambda in_features, out_features: mlp(in_features, out_features, hidden, layers, norm)


# ---------------------------------------------------------------------------------------------- blocks
class EdgeBlock(nn.Module):
    """e'_k = φᵉ([e_k, v_{r_k}, v_{s_k}, u_{g(k)}]) over the inputs switched on. Returns graphs with new edges."""

    def __init__(self, sizes: GraphSizes, out_features: int, make: Factory | None = None, use_edges: bool = True,
                 use_receiver_nodes: bool = True, use_sender_nodes: bool = True, use_globals: bool = True) -> None:  # fmt: skip
        super().__init__()
        self.use = (use_edges, use_receiver_nodes, use_sender_nodes, use_globals)
        width = sum(w for w, on in zip((sizes.edge, sizes.node, sizes.node, sizes.globals), self.use) if on)
        if width == 0:
            raise ValueError("EdgeBlock: every input is switched off or has width 0")
        self.phi = (make or mlp_factory())(width, out_features)

    def forward(self, graphs: Graphs) -> Graphs:
        parts = []
        if self.use[0]:
            parts.append(graphs.edges)
        if self.use[1]:
            parts.append(graphs.nodes[graphs.receivers])
        if self.use[2]:
            parts.append(graphs.nodes[graphs.senders])
        if self.use[3]:
            parts.append(graphs.globals[graphs.edge_graph()])
        return graphs._replace(edges=self.phi(torch.cat(parts, dim=1)))


class NodeBlock(nn.Module):
    """v'_i = φᵛ([ρ(edges into i), ρ(edges out of i), v_i, u_{g(i)}]). Returns graphs with new nodes."""

    def __init__(self, sizes: GraphSizes, out_features: int, make: Factory | None = None, reduce: Reduce = "sum",
                 use_received_edges: bool = True, use_sent_edges: bool = False, use_nodes: bool = True,
                 use_globals: bool = True) -> None:  # fmt: skip
        super().__init__()
        self.reduce = reduce
        self.use = (use_received_edges, use_sent_edges, use_nodes, use_globals)
        width = sum(w for w, on in zip((sizes.edge, sizes.edge, sizes.node, sizes.globals), self.use) if on)
        if width == 0:
            raise ValueError("NodeBlock: every input is switched off or has width 0")
        self.phi = (make or mlp_factory())(width, out_features)

    def forward(self, graphs: Graphs) -> Graphs:
        parts, count = [], len(graphs.nodes)
        if self.use[0]:
            parts.append(aggregate(graphs.edges, graphs.receivers, count, self.reduce))
        if self.use[1]:
            parts.append(aggregate(graphs.edges, graphs.senders, count, self.reduce))
        if self.use[2]:
            parts.append(graphs.nodes)
        if self.use[3]:
            parts.append(graphs.globals[graphs.node_graph()])
        return graphs._replace(nodes=self.phi(torch.cat(parts, dim=1)))


class GlobalBlock(nn.Module):
    """u' = φᵘ([ρ(all edges), ρ(all nodes), u]) per graph. Returns graphs with new globals."""

    def __init__(self, sizes: GraphSizes, out_features: int, make: Factory | None = None, reduce: Reduce = "sum",
                 use_edges: bool = True, use_nodes: bool = True, use_globals: bool = True) -> None:  # fmt: skip
        super().__init__()
        self.reduce = reduce
        self.use = (use_edges, use_nodes, use_globals)
        width = sum(w for w, on in zip((sizes.edge, sizes.node, sizes.globals), self.use) if on)
        if width == 0:
            raise ValueError("GlobalBlock: every input is switched off or has width 0")
        self.phi = (make or mlp_factory())(width, out_features)

    def forward(self, graphs: Graphs) -> Graphs:
        parts, count = [], graphs.num_graphs
        if self.use[0]:
            parts.append(aggregate(graphs.edges, graphs.edge_graph(), count, self.reduce))
        if self.use[1]:
            parts.append(aggregate(graphs.nodes, graphs.node_graph(), count, self.reduce))
        if self.use[2]:
            parts.append(graphs.globals)
        return graphs._replace(globals=self.phi(torch.cat(parts, dim=1)))


class GNBlock(nn.Module):
    """The full GN block: edge update, then node update, then global update (each sees the updates before it).

    `sizes`: the input widths; `out`: the output widths. `make` builds each φ (`edge_make` etc. override it
    per update). Parameter names: `edge.phi.*`, `node.phi.*`, `globals.phi.*`.
    """

    def __init__(self, sizes: GraphSizes, out: GraphSizes, make: Factory | None = None, reduce: Reduce = "sum",
                 edge_make: Factory | None = None, node_make: Factory | None = None,
                 global_make: Factory | None = None, use_globals: bool = True) -> None:  # fmt: skip
        super().__init__()
        make = make or mlp_factory()
        self.edge = EdgeBlock(sizes, out.edge, edge_make or make, use_globals=use_globals)
        after_edges = GraphSizes(sizes.node, out.edge, sizes.globals)
        self.node = NodeBlock(after_edges, out.node, node_make or make, reduce, use_globals=use_globals)
        after_nodes = GraphSizes(out.node, out.edge, sizes.globals)
        self.globals = GlobalBlock(after_nodes, out.globals, global_make or make, reduce, use_globals=use_globals)

    def forward(self, graphs: Graphs) -> Graphs:
        return self.globals(self.node(self.edge(graphs)))


# ------------------------------------------------------------------------------- the chapter's network
class MessagePassing(nn.Module):
    """T steps of m_t^(v) = ρ_{u ∈ N(v)} f([h^(v), h^(u), e^(u,v)]) and h_t^(v) = g(h^(v), m_t^(v)).

    The input nodes (N, F_v) are first projected to h_0 (N, hidden); f is an MLP, g a GRU cell (`update:
    gru`, gated graph networks) or an MLP on [h, m] (`update: mlp`); `shared`: one f and g for all T steps
    (else one per step). Returns the node states h_T (N, hidden); `states` (a list) gets h_0 .. h_T if given.
    """

    def __init__(self, node_features: int, edge_features: int, hidden: int = 64, steps: int = 3,
                 shared: bool = True, reduce: Reduce = "sum", update: Literal["gru", "mlp"] = "gru") -> None:  # fmt: skip
        super().__init__()
        self.steps, self.reduce, self.update = steps, reduce, update
        self.embed = nn.Linear(node_features, hidden)
        count = 1 if shared else steps
        self.message = nn.ModuleList(mlp(2 * hidden + edge_features, hidden, hidden) for _ in range(count))
        if update == "gru":
            self.node_update = nn.ModuleList(nn.GRUCell(hidden, hidden) for _ in range(count))
        else:
            self.node_update = nn.ModuleList(mlp(2 * hidden, hidden, hidden) for _ in range(count))

    def forward(self, graphs: Graphs, states: list[torch.Tensor] | None = None) -> torch.Tensor:
        h = torch.relu(self.embed(graphs.nodes))
        if states is not None:
            states.append(h)
        for t in range(self.steps):
            f, g = self.message[t % len(self.message)], self.node_update[t % len(self.node_update)]
            messages = f(torch.cat([h[graphs.receivers], h[graphs.senders], graphs.edges], dim=1))
            m = aggregate(messages, graphs.receivers, len(h), self.reduce)
            h = g(m, h) if self.update == "gru" else h + g(torch.cat([h, m], dim=1))
            if states is not None:
                states.append(h)
        return h


class GraphReadout(nn.Module):
    """y = R({h_T^(v)}): each graph's node states pooled (sum / mean / max), then an MLP. (G, out)."""

    def __init__(self, hidden: int, out_features: int, reduce: Reduce = "sum") -> None:
        super().__init__()
        self.reduce = reduce
        self.head = mlp(hidden, out_features, hidden)

    def forward(self, graphs: Graphs, h: torch.Tensor) -> torch.Tensor:
        return self.head(aggregate(h, graphs.node_graph(), graphs.num_graphs, self.reduce))


class EncodeProcessDecode(nn.Module):
    """graph_nets' encode-process-decode: independent MLP encoders of edges, nodes and globals to `latent`
    widths, a core GN block applied `steps` times to [encoded, latent] (the core's weights shared), and
    independent decoders to `out` widths. Returns the decoded graphs after the last step.
    """

    def __init__(self, sizes: GraphSizes, out: GraphSizes, latent: int = 64, steps: int = 3,
                 reduce: Reduce = "sum") -> None:  # fmt: skip
        super().__init__()
        self.steps = steps
        self.encode_nodes = mlp(max(sizes.node, 1), latent, latent, norm=True)  # width 0: a constant 1 is read
        self.encode_edges = mlp(max(sizes.edge, 1), latent, latent, norm=True)
        self.encode_globals = mlp(max(sizes.globals, 1), latent, latent, norm=True)
        doubled = GraphSizes(2 * latent, 2 * latent, 2 * latent)
        self.core = GNBlock(doubled, GraphSizes(latent, latent, latent), mlp_factory(latent, 2, norm=True), reduce)
        self.decode_nodes = mlp(latent, max(out.node, 1), latent)
        self.decode_edges = mlp(latent, max(out.edge, 1), latent)
        self.decode_globals = mlp(latent, max(out.globals, 1), latent)

    @staticmethod
    def _width_one(tensor: torch.Tensor) -> torch.Tensor:
        return tensor if tensor.shape[1] else tensor.new_ones(len(tensor), 1)  # no features: a constant 1

    def encode(self, graphs: Graphs) -> Graphs:
        return graphs._replace(nodes=self.encode_nodes(self._width_one(graphs.nodes)),
                               edges=self.encode_edges(self._width_one(graphs.edges)),
                               globals=self.encode_globals(self._width_one(graphs.globals)))  # fmt: skip

    def forward(self, graphs: Graphs) -> Graphs:
        encoded = self.encode(graphs)
        latent = encoded
        for _ in range(self.steps):
            joined = latent._replace(nodes=torch.cat([encoded.nodes, latent.nodes], 1),
                                     edges=torch.cat([encoded.edges, latent.edges], 1),
                                     globals=torch.cat([encoded.globals, latent.globals], 1))  # fmt: skip
            latent = self.core(joined)
        return latent._replace(nodes=self.decode_nodes(latent.nodes), edges=self.decode_edges(latent.edges),
                               globals=self.decode_globals(latent.globals))  # fmt: skip


# ---------------------------------------------------------------------------------------- a whole model
@dataclass
class GraphModelConfig:
    """The graph task's network: `mpnn` (the chapter's message passing, then a node head or a readout) or
    `gn` (encode-process-decode around a full GN block). hidden_size: h's width (the latent width of `gn`);
    num_steps: T; shared: one set of weights for all T steps (mpnn; gn always shares its core); reduce: ρ;
    update: g of mpnn (a GRU cell or a residual MLP)."""

    kind: Literal["mpnn", "gn"] = "mpnn"
    hidden_size: int = 64
    num_steps: int = 3
    shared: bool = True
    reduce: Literal["sum", "mean", "max"] = "sum"
    update: Literal["gru", "mlp"] = "gru"

    def __post_init__(self) -> None:
        from rnnlab.config import require_sizes

        require_sizes(self, "hidden_size", high=4096)
        require_sizes(self, "num_steps", high=64)


class GraphModel(nn.Module):
    """Graphs in, one output row per node (`level="node"`: (N, out)) or per graph (`level="graph"`: (G, out))."""

    def __init__(self, config: GraphModelConfig, sizes: GraphSizes, output_size: int,
                 level: Literal["node", "graph"]) -> None:  # fmt: skip
        super().__init__()
        self.kind, self.level = config.kind, level
        if config.kind == "mpnn":
            self.network = MessagePassing(sizes.node, sizes.edge, config.hidden_size, config.num_steps, config.shared,
                                          config.reduce, config.update)  # fmt: skip
            self.head = (mlp(config.hidden_size, output_size, config.hidden_size) if level == "node"
                         else GraphReadout(config.hidden_size, output_size, config.reduce))  # fmt: skip
        else:
            out = GraphSizes(output_size, 1, output_size)
            self.network = EncodeProcessDecode(sizes, out, config.hidden_size, config.num_steps, config.reduce)

    def node_states(self, graphs: Graphs) -> torch.Tensor:
        """(N, hidden): the last node states before the head (what the karate picture shows)."""
        if self.kind == "mpnn":
            return self.network(graphs)
        encoded = latent = self.network.encode(graphs)
        for _ in range(self.network.steps):
            latent = self.network.core(latent._replace(nodes=torch.cat([encoded.nodes, latent.nodes], 1),
                                                       edges=torch.cat([encoded.edges, latent.edges], 1),
                                                       globals=torch.cat([encoded.globals, latent.globals], 1)))
        return latent.nodes

    def forward(self, graphs: Graphs) -> torch.Tensor:
        if self.kind == "mpnn":
            h = self.network(graphs)
            return self.head(h) if self.level == "node" else self.head(graphs, h)
        out = self.network(graphs)
        return out.nodes if self.level == "node" else out.globals

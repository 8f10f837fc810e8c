"""Reference tests of rnnlab.nn.graph: the GN block equals its explicit sub-blocks and torch_geometric's
MetaLayer; our aggregation equals torch_geometric's scatter (forward and gradients) and a loop; permutation
invariance / equivariance; empty graphs, no edges, self-loops and multi-edges."""

from __future__ import annotations

import networkx as nx
import pytest
import torch

from rnnlab.errors import DataError
from rnnlab.nn.graph import (
    EncodeProcessDecode,
    GNBlock,
    Graphs,
    GraphSizes,
    MessagePassing,
    aggregate,
    check_graphs,
    concat_graphs,
    graph_from_networkx,
    graph_from_tensors,
    split_graphs,
)

SIZES = GraphSizes(node=3, edge=2, globals=4)
OUT = GraphSizes(node=5, edge=6, globals=7)


def random_graph(generator: torch.Generator, nodes: int, edges: int, sizes: GraphSizes = SIZES) -> Graphs:
    senders = torch.randint(0, max(nodes, 1), (edges,), generator=generator) if nodes else torch.zeros(0, dtype=torch.long)
    receivers = torch.randint(0, max(nodes, 1), (edges,), generator=generator) if nodes else torch.zeros(0, dtype=torch.long)
    return graph_from_tensors(torch.randn(nodes, sizes.node, generator=generator), senders, receivers,
                              torch.randn(len(senders), sizes.edge, generator=generator),
                              torch.randn(sizes.globals, generator=generator))  # fmt: skip


def random_batch(seed: int = 0) -> Graphs:
    generator = torch.Generator().manual_seed(seed)
    # includes a graph without edges and an empty graph (no nodes, no edges)
    return concat_graphs([random_graph(generator, 5, 9), random_graph(generator, 3, 0), random_graph(generator, 0, 0),
                          random_graph(generator, 7, 15)])  # fmt: skip


def loop_aggregate(values: torch.Tensor, index: torch.Tensor, size: int, reduce: str) -> torch.Tensor:
    rows = []
    for target in range(size):
        chosen = values[index == target]
        if len(chosen) == 0:
            rows.append(values.new_zeros(values.shape[1]))
        else:
            rows.append({"sum": chosen.sum(0), "mean": chosen.mean(0), "max": chosen.max(0).values}[reduce])
    return torch.stack(rows) if rows else values.new_zeros(0, values.shape[1])


@pytest.mark.parametrize("reduce", ["sum", "mean", "max"])
def test_aggregate_equals_a_loop_and_empty_targets_get_zero(reduce):
    generator = torch.Generator().manual_seed(1)
    values = torch.randn(20, 3, generator=generator)
    index = torch.randint(0, 8, (20,), generator=generator)
    index[index == 5] = 6  # target 5 receives nothing
    torch.testing.assert_close(aggregate(values, index, 9, reduce), loop_aggregate(values, index, 9, reduce))
    assert aggregate(values[:0], index[:0], 4, reduce).eq(0).all()


@pytest.mark.parametrize("reduce", ["sum", "mean", "max"])
def test_aggregate_equals_torch_geometric_forward_and_gradients(reduce):
    scatter = pytest.importorskip("torch_geometric.utils").scatter
    generator = torch.Generator().manual_seed(2)
    values = torch.randn(30, 4, generator=generator, dtype=torch.float64)
    index = torch.randint(0, 10, (30,), generator=generator)
    ours_in, theirs_in = values.clone().requires_grad_(), values.clone().requires_grad_()
    ours = aggregate(ours_in, index, 12, reduce)
    theirs = scatter(theirs_in, index, dim=0, dim_size=12, reduce=reduce)
    torch.testing.assert_close(ours, theirs)
    weights = torch.randn(12, 4, generator=generator, dtype=torch.float64)
    (ours * weights).sum().backward()
    (theirs * weights).sum().backward()
    torch.testing.assert_close(ours_in.grad, theirs_in.grad)


def test_gn_block_equals_its_explicit_sub_blocks():
    torch.manual_seed(0)
    graphs = random_batch()
    block = GNBlock(SIZES, OUT, reduce="mean")
    out = block(graphs)
    # the same computation written out with the block's own φ functions
    nodes, edges, globals_, senders, receivers = graphs.nodes, graphs.edges, graphs.globals, graphs.senders, graphs.receivers
    edge_graph, node_graph = graphs.edge_graph(), graphs.node_graph()
    new_edges = block.edge.phi(torch.cat([edges, nodes[receivers], nodes[senders], globals_[edge_graph]], 1))
    received = loop_aggregate(new_edges, receivers, len(nodes), "mean")
    new_nodes = block.node.phi(torch.cat([received, nodes, globals_[node_graph]], 1))
    new_globals = block.globals.phi(torch.cat([loop_aggregate(new_edges, edge_graph, 4, "mean"),
                                               loop_aggregate(new_nodes, node_graph, 4, "mean"), globals_], 1))  # fmt: skip
    torch.testing.assert_close(out.edges, new_edges)
    torch.testing.assert_close(out.nodes, new_nodes)
    torch.testing.assert_close(out.globals, new_globals)
    assert out.nodes.shape == (15, 5) and out.edges.shape == (24, 6) and out.globals.shape == (4, 7)
    names = {name.split(".")[0] for name, _ in block.named_parameters()}
    assert names == {"edge", "node", "globals"}


def test_gn_block_equals_torch_geometric_meta_layer():
    pyg = pytest.importorskip("torch_geometric.nn")
    scatter = pytest.importorskip("torch_geometric.utils").scatter
    torch.manual_seed(0)
    graphs = random_batch(3)
    block = GNBlock(SIZES, OUT, reduce="sum")

    class Edge(torch.nn.Module):
        def forward(self, src, dest, edge_attr, u, batch):
            return block.edge.phi(torch.cat([edge_attr, dest, src, u[batch]], 1))

    class Node(torch.nn.Module):
        def forward(self, x, edge_index, edge_attr, u, batch):
            received = scatter(edge_attr, edge_index[1], dim=0, dim_size=x.size(0), reduce="sum")
            return block.node.phi(torch.cat([received, x, u[batch]], 1))

    class Global(torch.nn.Module):
        def forward(self, x, edge_index, edge_attr, u, batch):
            edge_batch = batch[edge_index[0]]
            return block.globals.phi(torch.cat([scatter(edge_attr, edge_batch, 0, dim_size=len(u), reduce="sum"),
                                                scatter(x, batch, 0, dim_size=len(u), reduce="sum"), u], 1))  # fmt: skip

    meta = pyg.MetaLayer(Edge(), Node(), Global())
    edge_index = torch.stack([graphs.senders, graphs.receivers])
    x, e, u = meta(graphs.nodes, edge_index, graphs.edges, graphs.globals, graphs.node_graph())
    out = block(graphs)
    torch.testing.assert_close(out.nodes, x)
    torch.testing.assert_close(out.edges, e)
    torch.testing.assert_close(out.globals, u)


def test_permutation_equivariance_and_invariance():
    torch.manual_seed(0)
    graph = random_graph(torch.Generator().manual_seed(4), 6, 12)
    perm = torch.randperm(6)
    inverse = torch.argsort(perm)  # old node i is new node inverse[i]
    edge_perm = torch.randperm(12)
    permuted = graph._replace(nodes=graph.nodes[perm], senders=inverse[graph.senders][edge_perm],
                              receivers=inverse[graph.receivers][edge_perm], edges=graph.edges[edge_perm])  # fmt: skip
    check_graphs(permuted)
    for reduce in ("sum", "mean", "max"):
        block = GNBlock(SIZES, OUT, reduce=reduce)
        a, b = block(graph), block(permuted)
        torch.testing.assert_close(b.nodes, a.nodes[perm])  # nodes: equivariant
        torch.testing.assert_close(b.edges, a.edges[edge_perm])  # edges: equivariant
        torch.testing.assert_close(b.globals, a.globals)  # globals: invariant
    network = MessagePassing(3, 2, hidden=8, steps=2)
    torch.testing.assert_close(network(permuted), network(graph)[perm])


def test_empty_graph_no_edges_self_loops_multi_edges():
    torch.manual_seed(0)
    block = GNBlock(SIZES, OUT)
    # a graph without edges: the nodes see an aggregate of 0; an empty graph still gets a global
    lonely = graph_from_tensors(torch.randn(2, 3), [], [], torch.zeros(0, 2), torch.randn(4))
    empty = graph_from_tensors(torch.zeros(0, 3), [], [], torch.zeros(0, 2), torch.randn(4))
    out = block(concat_graphs([lonely, empty]))
    assert out.nodes.shape == (2, 5) and out.edges.shape == (0, 6) and out.globals.shape == (2, 7)
    expected = block.node.phi(torch.cat([torch.zeros(2, 6), lonely.nodes, lonely.globals.expand(2, 4)], 1))
    torch.testing.assert_close(out.nodes, expected)
    # a self-loop is an ordinary edge; two parallel edges send two messages (sum: twice one)
    nodes = torch.randn(2, 3)
    one = graph_from_tensors(nodes, [0, 1], [1, 1], torch.ones(2, 2), torch.zeros(4))
    two = graph_from_tensors(nodes, [0, 0, 1], [1, 1, 1], torch.ones(3, 2), torch.zeros(4))
    mp = MessagePassing(3, 2, hidden=4, steps=1, update="mlp")
    f = mp.message[0]
    h = torch.relu(mp.embed(nodes))
    message = f(torch.cat([h[1:2], h[0:1], torch.ones(1, 2)], 1))
    loop = f(torch.cat([h[1:2], h[1:2], torch.ones(1, 2)], 1))
    torch.testing.assert_close(mp(one)[1], h[1] + mp.node_update[0](torch.cat([h[1:2], message + loop], 1))[0])
    torch.testing.assert_close(mp(two)[1], h[1] + mp.node_update[0](torch.cat([h[1:2], 2 * message + loop], 1))[0])


def test_concat_split_round_trip_and_networkx():
    batch = random_batch(5)
    parts = split_graphs(batch)
    assert [int(p.n_node) for p in parts] == [5, 3, 0, 7]
    again = concat_graphs(parts)
    for x, y in zip(batch, again):
        assert torch.equal(x, y)
    graph, order = graph_from_networkx(nx.karate_club_graph())
    assert len(order) == 34 and len(graph.senders) == 2 * 78 and graph.nodes.shape == (34, 1)


def test_clear_errors():
    with pytest.raises(DataError, match=r"receivers\[1\] = 7 is out of range"):
        graph_from_tensors(torch.zeros(3, 1), [0, 1], [1, 7])
    with pytest.raises(DataError, match="NaN"):
        graph_from_tensors(torch.tensor([[float("nan")]]), [], [])
    with pytest.raises(DataError, match="2 edge rows, 1 senders"):
        graph_from_tensors(torch.zeros(3, 1), [0], [1], torch.zeros(2, 1))
    with pytest.raises(DataError, match="different feature widths"):
        concat_graphs([graph_from_tensors(torch.zeros(2, 1), [], []), graph_from_tensors(torch.zeros(2, 2), [], [])])
    # an edge of graph 1 pointing at a node of graph 0
    batch = concat_graphs([graph_from_tensors(torch.zeros(2, 1), [], []), graph_from_tensors(torch.zeros(2, 1), [0], [1])])
    with pytest.raises(DataError, match="belongs to graph 1, whose nodes are 2..3"):
        check_graphs(batch._replace(senders=torch.tensor([0])))


def test_encode_process_decode_shapes_and_gradients():
    torch.manual_seed(0)
    model = EncodeProcessDecode(SIZES, GraphSizes(1, 2, 3), latent=8, steps=2)
    out = model(random_batch(6))
    assert out.nodes.shape == (15, 1) and out.edges.shape == (24, 2) and out.globals.shape == (4, 3)
    out.globals.sum().backward()
    assert all(p.grad is not None for name, p in model.named_parameters() if not name.startswith(("decode_n", "decode_e")))

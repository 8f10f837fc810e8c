"""`rnnlab inspect graph` on a GN model (`model.kind: gn`): one GN block step captured by hooks equals the
block's own edge, node and global updates, and is drawn (a PNG), through the API and the CLI."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from rnnlab.cli import main
from rnnlab.inspect.gn_step import capture_gn_step, draw_gn_step, first_component, gn_model_step
from rnnlab.nn.graph import GraphModel, GraphModelConfig, aggregate, graph_from_tensors

QUIET = ["--trainer.progress", "false", "--trainer.plot", "false", "--trainer.device", "cpu"]


def tiny_gn() -> tuple[GraphModel, object]:
    torch.manual_seed(0)
    graph = graph_from_tensors(torch.randn(5, 3), [0, 1, 2, 3, 4, 0, 2], [1, 2, 3, 4, 0, 2, 0], torch.randn(7, 2),
                               torch.randn(4))  # fmt: skip
    model = GraphModel(GraphModelConfig(kind="gn", hidden_size=8, num_steps=2, reduce="mean"), graph.sizes, 2, "node")
    return model.eval(), graph


def test_the_captured_step_equals_the_blocks_own_updates(tmp_path):
    model, graph = tiny_gn()
    net, core = model.network, model.network.core
    with torch.no_grad():
        encoded = net.encode(graph)
        joined = encoded._replace(nodes=torch.cat([encoded.nodes] * 2, 1), edges=torch.cat([encoded.edges] * 2, 1),
                                  globals=torch.cat([encoded.globals] * 2, 1))  # fmt: skip
        after_edges = core.edge(joined)  # the block's three updates, called one by one
        after_nodes = core.node(after_edges)
        after_globals = core.globals(after_nodes)
    step = gn_model_step(SimpleNamespace(model=model, device=torch.device("cpu")), graph, list("abcde"), "tiny")
    t = step.tensors
    assert step.calls == 2 and "application 1 of 2" in step.title
    torch.testing.assert_close(t["nodes_in"], joined.nodes)
    torch.testing.assert_close(t["edges_in"], joined.edges)
    torch.testing.assert_close(t["globals_in"], joined.globals)
    torch.testing.assert_close(t["edges"], after_edges.edges)
    torch.testing.assert_close(t["nodes"], after_nodes.nodes)
    torch.testing.assert_close(t["globals"], after_globals.globals)
    torch.testing.assert_close(t["received"], aggregate(after_edges.edges, graph.receivers, 5, "mean"))
    torch.testing.assert_close(t["edge_pool"], after_edges.edges.mean(0, keepdim=True))
    torch.testing.assert_close(t["node_pool"], after_nodes.nodes.mean(0, keepdim=True))
    assert "sent" not in t  # the node update does not read outgoing edges (use_sent_edges false)
    # what is drawn: each row's first principal component of those very tensors
    np.testing.assert_allclose(step.values["edges"], first_component(after_edges.edges), atol=1e-6)
    np.testing.assert_allclose(step.values["nodes"], first_component(after_nodes.nodes), atol=1e-6)
    out = tmp_path / "step.png"
    draw_gn_step(step, out)
    assert out.read_bytes()[:4] == b"\x89PNG" and out.stat().st_size > 10_000
    # the second application reads [encoded, latent after the first]
    second, _ = capture_gn_step(core, lambda: model(graph), application=1)
    torch.testing.assert_close(second["nodes_in"], torch.cat([encoded.nodes, after_globals.nodes], 1))
    with pytest.raises(Exception, match="applied 2 times; no application 3"):
        capture_gn_step(core, lambda: model(graph), application=2)


def test_first_component_recovers_a_line():
    direction = torch.tensor([3.0, 4.0]) / 5
    along = torch.tensor([-2.0, 0.5, 1.5])
    rows = along[:, None] * direction + torch.tensor([1.0, 1.0])  # three points on a line, off the origin
    values = first_component(rows)
    np.testing.assert_allclose(values, -(along - along.mean()).numpy(), atol=1e-6)  # -2 is the largest |value|
    assert values[np.abs(values).argmax()] > 0  # the sign: the largest |value| positive
    assert first_component(torch.ones(3, 4)).tolist() == [0.0, 0.0, 0.0]  # no spread, nothing to show


def test_inspect_graph_draws_a_gn_karate_model(tmp_path, capsys):
    run = tmp_path / "karate-gn"
    argv = ["train", "graph", "--data.dataset", "karate", "--model.kind", "gn", "--model.hidden_size", "8",
            "--model.num_steps", "2", "--trainer.max_steps", "2", "--trainer.max_epochs", "null",
            "--trainer.eval_every", "2", *QUIET, "--output_dir", str(run)]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    out = tmp_path / "gn.png"
    assert main(["inspect", "graph", str(run), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "one GN step (the core block's application 1 of 2)" in printed and "over 156 edges" in printed
    assert out.read_bytes()[:4] == b"\x89PNG" and out.stat().st_size > 10_000

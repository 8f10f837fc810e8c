"""n-body gravity (`rnnlab.data.physics`): the simulator's invariants, refused masses, the fully connected
graph, and a GN trained a few steps on it through `rnnlab.cli.main` (train, eval, rollout, inspect graph)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnnlab.cli import main
from rnnlab.data.physics import (
    DT,
    EPS,
    NBodySystem,
    accelerations,
    energy,
    random_nbody,
    simulate,
    system_graph,
)
from rnnlab.errors import DataError

QUIET = ["--trainer.progress", "false", "--trainer.plot", "false", "--trainer.device", "cpu"]


def test_gravity_matches_a_double_loop_and_conserves_momentum():
    system = random_nbody(np.random.default_rng(1), bodies=5)
    x = system.x0
    loop = np.zeros_like(x)
    for i in range(5):
        for j in range(5):
            if i != j:
                d = x[j] - x[i]
                loop[i] += system.masses[j] * d / (d @ d + EPS**2) ** 1.5
    np.testing.assert_allclose(accelerations(system, x, system.v0), loop, rtol=1e-12)
    assert abs(system.masses @ system.x0).max() < 1e-12 and abs(system.masses @ system.v0).max() < 1e-12
    _, v = simulate(system, 300)
    momentum = (system.masses[:, None] * v).sum(1)  # (301, 2): opposite pairs of forces, exactly conserved
    assert np.abs(momentum).max() < 1e-12


def test_energy_error_is_bounded_and_first_order_in_the_step():
    errors = []
    for seed in range(6):
        system = random_nbody(np.random.default_rng(seed), bodies=6)
        x, v = simulate(system, 300)
        energies = np.array([energy(system, x[t], v[t]) for t in range(301)])
        assert energies[0] < 0  # bound: the potential outweighs the motion
        errors.append(np.abs(energies / energies[0] - 1).max())
        assert np.abs(x).max() < 10  # nothing flies off in 300 steps
    assert max(errors) < 0.1 and np.median(errors) < 0.03
    system = random_nbody(np.random.default_rng(0), bodies=6)
    x, v = simulate(system, 1200, dt=DT / 4)  # the same time at a quarter of the step: a smaller error
    finer = np.array([energy(system, x[t], v[t]) for t in range(0, 1201, 4)])
    assert np.abs(finer / finer[0] - 1).max() < 0.5 * errors[0]


def test_zero_negative_or_non_finite_masses_are_refused():
    system = random_nbody(np.random.default_rng(0), bodies=3)
    for masses in ([5.0, 0.0, 0.3], [5.0, -1.0, 0.3], [5.0, float("nan"), 0.3], [float("inf"), 0.2, 0.3]):
        with pytest.raises(DataError, match=r"masses must be positive and finite, got \["):
            NBodySystem(np.array(masses), system.x0, system.v0)
    with pytest.raises(DataError, match=r"x0 and v0 must be \(3, 2\)"):
        NBodySystem(system.masses, system.x0[:2], system.v0)
    with pytest.raises(DataError, match="needs at least one body"):
        NBodySystem(np.zeros(0), np.zeros((0, 2)), np.zeros((0, 2)))


def test_the_graph_is_fully_connected_with_relative_positions():
    system = random_nbody(np.random.default_rng(2), bodies=4)
    graph = system_graph(system, system.x0, system.v0)
    assert graph.nodes.shape == (4, 3) and graph.edges.shape == (12, 3) and graph.globals.shape == (1, 0)
    pairs = set(zip(graph.senders.tolist(), graph.receivers.tolist()))
    assert pairs == {(s, r) for s in range(4) for r in range(4) if s != r}
    s, r = int(graph.senders[0]), int(graph.receivers[0])
    d = system.x0[s] - system.x0[r]
    np.testing.assert_allclose(graph.edges[0].numpy(), [d[0], d[1], np.linalg.norm(d)], rtol=1e-6)
    np.testing.assert_allclose(graph.nodes[:, 2].numpy(), system.masses, rtol=1e-6)
    shifted = system_graph(system, system.x0 + 7.0, system.v0)  # translation invariant
    np.testing.assert_allclose(shifted.edges.numpy(), graph.edges.numpy(), atol=1e-5)


def test_a_gn_trains_on_n_body_and_rolls_out(tmp_path, capsys):
    run = tmp_path / "nbody"
    argv = ["train", "configs/graph/n-body.yaml", "--data.max_train", "2", "--data.max_valid", "2",
            "--model.hidden_size", "8", "--model.num_steps", "1", "--batch_size", "16", "--trainer.max_steps", "6",
            "--trainer.max_epochs", "null", "--trainer.eval_every", "6", "--trainer.lr", "0.01", "--trainer.log_every", "1", *QUIET,
            "--output_dir", str(run)]  # fmt: skip
    assert main(argv) == 0
    losses = [json.loads(line)["loss"] for line in (run / "metrics.jsonl").read_text().splitlines()
              if json.loads(line)["event"] == "train"]  # fmt: skip
    assert "n-body (physics), 2 training systems, 120 samples" in capsys.readouterr().err
    assert len(losses) == 6 and all(np.isfinite(losses)) and min(losses[3:]) < losses[0], losses  # it learns
    assert main(["eval", str(run), "--split", "valid", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["data"] == "n-body valid" and result["examples"] == 2 and result["constant_velocity_error"] > 0
    out = tmp_path / "frames"
    assert main(["rollout", str(run), "--masses", "9", "--steps", "4", "--frames", "2", "--out", str(out), "--json"]) == 0
    first = json.loads(capsys.readouterr().out.splitlines()[0])
    assert first["masses"] == 9 and np.isfinite(first["rollout_error"])
    assert (out / "rollout.png").read_bytes()[:4] == b"\x89PNG" and (out / "rollout.gif").read_bytes()[:3] == b"GIF"
    picture = tmp_path / "step.png"
    assert main(["inspect", "graph", str(run), "--out", str(picture)]) == 0
    assert "one GN step (the core block's application 1 of 1)" in capsys.readouterr().out
    assert picture.read_bytes()[:4] == b"\x89PNG"
    assert main(["inspect", "graph", str(run), "--smiles", "CCO", "--out", str(tmp_path / "x.png")]) == 2
    assert "--smiles is for a molecule model" in capsys.readouterr().err

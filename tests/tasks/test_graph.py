"""The `graph` and `physics` tasks: smiles,target files (bad SMILES skipped with line numbers), RDKit graphs,
the mass-spring simulator's invariants, and train + eval + verbs through `rnnlab.cli.main`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rnnlab.cli import main
from rnnlab.data.molecules import ATOM_FEATURES, BOND_FEATURES, read_molecule_csv, smiles_graph
from rnnlab.data.physics import SpringSystem, energy, random_system, simulate, spring_graph
from rnnlab.errors import DataError

QUIET = ["--trainer.progress", "false", "--trainer.plot", "false", "--trainer.device", "cpu"]
MOLECULES = ["CCO", "c1ccccc1", "CC(=O)O", "CCN", "OCCO", "C1CC1", "CCCl", "CC#N", "O=C=O", "CCOC"]


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("smiles,target\n" + "".join(f"{s},{t}\n" for s, t in rows), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------- molecules
def test_rdkit_graphs_have_documented_features():
    ethanol = smiles_graph("CCO")
    assert ethanol.nodes.shape == (3, ATOM_FEATURES) and ethanol.edges.shape == (4, BOND_FEATURES)
    assert ethanol.senders.tolist() == [0, 1, 1, 2] and ethanol.receivers.tolist() == [1, 0, 2, 1]
    benzene = smiles_graph("c1ccccc1")
    assert benzene.edges[:, 3].eq(1).all()  # every bond aromatic
    assert smiles_graph("C").edges.shape == (0, BOND_FEATURES)  # one atom, no bonds
    assert smiles_graph("C(") is None and smiles_graph("") is None


def test_files_dataset_skips_bad_smiles_with_line_numbers(tmp_path, capsys):
    path = write_csv(tmp_path / "mine.csv", [("CCO", "1"), ("C(", "2"), ("CCN", "3"), ("xyz", "4")])
    molecules, skipped = read_molecule_csv(path)
    assert [m.smiles for m in molecules] == ["CCO", "CCN"] and skipped == [3, 5]
    assert molecules[1].where == f"{path}:4"
    with pytest.raises(DataError, match=r"mine.csv:3: target must be a number, got 'heavy'"):
        read_molecule_csv(write_csv(tmp_path / "mine.csv", [("CCO", "1"), ("CCN", "heavy")]))
    with pytest.raises(DataError, match=r"mine.csv:2: target must be finite"):
        read_molecule_csv(write_csv(tmp_path / "mine.csv", [("CCO", "nan")]))
    with pytest.raises(DataError, match=r"no parseable molecule \(2 unparseable SMILES skipped, lines 2, 3\)"):
        read_molecule_csv(write_csv(tmp_path / "mine.csv", [("C(", "1"), ("((", "2")]))
    (tmp_path / "cols.csv").write_text("text,value\nCCO,1\n")
    with pytest.raises(DataError, match="expected columns 'smiles' and 'target'"):
        read_molecule_csv(tmp_path / "cols.csv")


# --------------------------------------------------------------------------------------------- physics
def test_energy_is_conserved_without_damping_and_lost_with_it():
    system = random_system(np.random.default_rng(3), masses=6)
    x, v = simulate(system, steps=500, dt=0.005)
    energies = np.array([energy(system, x[t], v[t]) for t in range(0, 501, 50)])
    assert np.abs(energies / energies[0] - 1).max() < 0.02  # symplectic Euler: bounded, small oscillation
    damped = SpringSystem(system.masses, system.springs, system.stiffness, system.rest, system.x0, system.v0, 1.0)
    x, v = simulate(damped, steps=500, dt=0.005)
    assert energy(damped, x[-1], v[-1]) < 0.5 * energies[0]
    # momentum is conserved by the springs (forces come in opposite pairs)
    momentum = (system.masses[:, None] * simulate(system, 100)[1]).sum(1)
    np.testing.assert_allclose(momentum, momentum[:1].repeat(101, 0), atol=1e-9)
    graph = spring_graph(system, system.x0, system.v0)
    assert graph.nodes.shape == (6, 4) and len(graph.senders) == 2 * len(system.springs)


def test_zero_or_negative_masses_are_refused():
    system = random_system(np.random.default_rng(0), masses=3)
    for masses in ([1.0, 0.0, 1.0], [1.0, -2.0, 1.0], [1.0, float("nan"), 1.0]):
        with pytest.raises(DataError, match="masses must be positive"):
            SpringSystem(np.array(masses), system.springs, system.stiffness, system.rest, system.x0, system.v0)
    with pytest.raises(DataError, match="a spring joins a mass that does not exist"):
        SpringSystem(system.masses, np.array([[0, 5]]), np.ones(1), np.ones(1), system.x0, system.v0)


# ------------------------------------------------------------------------------------------ through the CLI
def test_train_eval_and_smiles_verb_through_the_cli(tmp_path, capsys):
    rows = [(s, str(round(0.5 * s.count("C") - s.count("O"), 2))) for s in MOLECULES * 2]
    train = write_csv(tmp_path / "train.csv", rows[:3] + [("C1CC", "9")] + rows[3:])  # line 5: bad SMILES
    run = tmp_path / "run"
    argv = ["train", "graph", "--data.dataset", "files", "--data.train", str(train), "--model.hidden_size", "8",
            "--model.num_steps", "2", "--batch_size", "4", "--trainer.max_steps", "3", "--trainer.max_epochs",
            "null", "--trainer.eval_every", "3", "--trainer.metric", "rmse", *QUIET, "--output_dir", str(run)]  # fmt: skip
    assert main(argv) == 0
    assert "1 unparseable SMILES skipped, line 5" in capsys.readouterr().err
    test = write_csv(tmp_path / "test.csv", rows[:4] + [("not-a-molecule", "1")])
    assert main(["eval", str(run), "--data", str(test), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["examples"] == 4 and result["skipped_lines"] == [6] and result["rmse"] >= 0
    assert main(["smiles", str(run), "CCO", "c1ccccc1", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["input"] for line in lines] == ["CCO", "c1ccccc1"] and [line["atoms"] for line in lines] == [3, 6]
    assert main(["smiles", str(run), "CCO", "C(("]) == 2
    assert "input 2 ('C((')" in capsys.readouterr().err
    assert main(["rollout", str(run)]) == 2  # a molecule model offers no rollout
    assert "needs a model of task 'physics'" in capsys.readouterr().err


def test_physics_train_eval_and_rollout_verb(tmp_path, capsys):
    run = tmp_path / "physics"
    argv = ["train", "physics", "--data.max_train", "1", "--data.max_valid", "2", "--model.hidden_size", "8",
            "--model.num_steps", "1", "--batch_size", "16", "--trainer.max_steps", "3", "--trainer.max_epochs", "null",
            "--trainer.eval_every", "3", *QUIET, "--output_dir", str(run)]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["eval", str(run), "--split", "valid", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["examples"] == 2 and result["steps"] == 50 and result["constant_velocity_error"] > 0
    out = tmp_path / "frames"
    assert main(["rollout", str(run), "--masses", "4", "--steps", "6", "--frames", "2", "--out", str(out), "--json"]) == 0
    first = json.loads(capsys.readouterr().out.splitlines()[0])
    assert first["masses"] == 4 and first["rollout_error"] >= 0
    assert (out / "rollout.png").read_bytes()[:4] == b"\x89PNG" and (out / "rollout.gif").read_bytes()[:3] == b"GIF"
    assert main(["rollout", str(run), "--masses", "0"]) == 2
    assert "--masses must be an integer >= 2, got 0" in capsys.readouterr().err

"""`rnnlab inspect seq2seq | unroll | graph`: pictures of trained models, checked against the models themselves."""

from __future__ import annotations

import json
import math

import pytest
from tests.verb_models import build_translate

from rnnlab.cli import main
from rnnlab.inspect.seq2seq import unroll_run
from rnnlab.tasks.translator import load_translator


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return build_translate(tmp_path_factory.mktemp("s2s"))


def test_teacher_forcing_gives_the_reference_the_model_score(run_dir):
    translator = load_translator(run_dir / "best")
    run = unroll_run(translator, "rot eins", reference="red one")
    assert run.mode == "teacher forcing" and run.targets[-1] == "</s>"
    assert run.inputs == ["<s>", *run.targets[:-1]]  # the reference, shifted: what teacher forcing feeds
    [score] = translator.score_pairs(["rot eins"], ["red one"])
    assert sum(math.log(p) for p in run.target_probabilities) == pytest.approx(score, abs=1e-3)
    assert all(abs(sum(row) - 1) < 1e-3 for row in run.attention)  # one weight per source piece, summing to 1
    assert len(run.attention[0]) == len(run.source)


def test_free_running_feeds_back_its_own_greedy_output(run_dir):
    translator = load_translator(run_dir / "best")
    run = unroll_run(translator, "rot eins")
    greedy = translator.translate(["rot eins"], method="greedy", warn=False)[0][0]
    assert run.mode == "free running"
    # each step's argmax is the token it emitted (the last step's </s> is appended when decoding stopped at
    # its length limit, as this barely trained model's does) ...
    assert run.predicted[:-1] == run.targets[:-1]
    assert run.inputs[1:] == run.targets[:-1]  # ... and the next step's input
    assert len(run.targets) == len(greedy.ids) + 1  # the greedy translation, then </s>


def test_the_command_draws_both_views_and_refuses_other_models(run_dir, tmp_path, capsys):
    out = tmp_path / "s2s.svg"
    assert main(["inspect", "seq2seq", str(run_dir), "rot eins", "--reference", "red one", "--out", str(out), "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["mode"] for line in lines[:2]] == ["teacher forcing", "free running"]
    assert out.read_text().lstrip().startswith("<?xml") and "<svg" in out.read_text()
    assert main(["inspect", "seq2seq", str(run_dir), "rot eins", "--out", str(out)]) == 2  # exists: no --overwrite
    assert "--overwrite" in capsys.readouterr().err
    assert main(["inspect", "seq2seq", str(run_dir), "  ", "--out", str(tmp_path / "x.svg")]) == 2
    assert "source: expected a sentence" in capsys.readouterr().err


def test_inspect_unroll_draws_a_stack_or_a_trained_models_own_shape(run_dir, tmp_path, capsys):
    from rnnlab.inspect.stack import layer_shape

    translator = load_translator(run_dir / "best")
    shape = layer_shape(translator.model)
    assert (shape.layers, shape.bidirectional, shape.cell, shape.where) == (1, True, "lstm", "encoder.rnn")
    out = tmp_path / "unroll.svg"
    assert main(["inspect", "unroll", "--ckpt", str(run_dir), "--text", "rot eins", "--out", str(out)]) == 0
    assert "encoder.rnn is a 1-layer bidirectional lstm" in capsys.readouterr().out
    svg = out.read_text()
    assert "<svg" in svg
    assert main(["inspect", "unroll", "--num-layers", "3", "--bidirectional", "--out", str(tmp_path / "u.png")]) == 0
    assert (tmp_path / "u.png").read_bytes().startswith(b"\x89PNG")
    assert main(["inspect", "unroll", "--text", " ".join(["w"] * 17), "--out", str(tmp_path / "v.png")]) == 2
    assert "expected 1 to 16 input tokens" in capsys.readouterr().err


def test_inspect_graph_keeps_every_message_passing_step(tmp_path, capsys):
    from tests.verb_models import build_graph

    from rnnlab.inspect.graph import message_passing_steps
    from rnnlab.tasks.registry import get_task

    run = build_graph(tmp_path)
    predictor = get_task("graph").load(run / "best")
    from rnnlab.data.molecules import smiles_graph

    graph = smiles_graph("CC(=O)O")
    steps = message_passing_steps(predictor, graph, ["C", "C", "O", "O"], [], "acetic acid")
    assert len(steps.values) == 3 and all(v.shape == (4,) for v in steps.values)  # h_0 and 2 steps, 4 atoms
    final = predictor.model.network(graph)  # the last panel is the state the readout reads
    assert steps.values[-1] == pytest.approx(final.norm(dim=-1).detach().numpy(), abs=1e-6)
    answer = predictor.predict_molecules([graph])[0]
    assert f"{answer:.3f}" in steps.title
    out = tmp_path / "g.png"
    assert main(["inspect", "graph", str(run), "--smiles", "CC(=O)O", "--out", str(out)]) == 0
    assert out.read_bytes().startswith(b"\x89PNG") and "2 message-passing steps" in capsys.readouterr().out
    assert main(["inspect", "graph", str(run), "--out", str(tmp_path / "h.png")]) == 2
    assert "give the molecule to draw with --smiles" in capsys.readouterr().err

"""A smoke run of every `rnnlab inspect` command on tiny settings: each writes a non-empty picture."""

import pytest

from rnnlab.cli import main


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_diagram(tmp_path, cell, capsys):
    out = tmp_path / f"{cell}.png"
    assert main(["inspect", "diagram", "--cell", cell, "--out", str(out)]) == 0
    assert out.stat().st_size > 1000
    text = capsys.readouterr().out
    assert {"lstm": "i|f|g|o", "gru": "r|z|n", "rnn": "blocks h"}[cell] in text


def test_gates_random(tmp_path):
    out = tmp_path / "g.png"
    assert (
        main(["inspect", "gates", "--random", 'print("hi (there)")', "--hidden-size", "4", "--out", str(out)])
        == 0
    )
    assert out.stat().st_size > 1000 and (tmp_path / "g_units.png").stat().st_size > 1000


def test_gates_without_text_is_a_user_error(capsys):
    assert main(["inspect", "gates", "--random"]) == 2
    assert "expected a text" in capsys.readouterr().err


def test_bptt(tmp_path, capsys):
    out = tmp_path / "b.png"
    assert main(["inspect", "bptt", "--cell", "rnn", "--steps", "4", "--t", "2", "--out", str(out)]) == 0
    assert out.stat().st_size > 1000
    assert "L_1: 0.000e+00" in capsys.readouterr().out
    assert main(["inspect", "bptt", "--steps", "4", "--t", "5"]) == 2


def test_gradflow(tmp_path):
    out = tmp_path / "f.png"
    args = [
        "inspect",
        "gradflow",
        "--cell",
        "gru",
        "--length",
        "8",
        "--train-steps",
        "5",
        "--hidden-size",
        "4",
        "--explode-steps",
        "5",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    assert out.stat().st_size > 1000


def test_cost(tmp_path, capsys):
    out = tmp_path / "c.png"
    assert (
        main(
            ["inspect", "cost", "--cell", "rnn", "--lengths", "5", "10", "--repeats", "1", "--out", str(out)]
        )
        == 0
    )
    assert out.stat().st_size > 1000 and "T=10" in capsys.readouterr().out

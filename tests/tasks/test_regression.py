"""The example task (docs/extending.md): sequence-to-vector regression, through the generic CLI only."""

from __future__ import annotations

import json
import random

import pytest

from rnnlab.cli import main
from rnnlab.data.tabular import read_csv_examples, split_examples
from rnnlab.errors import DataError
from rnnlab.numeric_metrics import regression_metrics


def write_csv(path, rows) -> str:
    path.write_text("smiles,expt\n" + "".join(f"{text},{value}\n" for text, value in rows), encoding="utf-8")
    return str(path)


def molecules(count: int, seed: int) -> list[tuple[str, float]]:
    """SMILES-like strings whose target is a known function of their characters (2 per C, -3 per O)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        text = "".join(rng.choice("CCCOON()=") for _ in range(rng.randint(3, 12)))
        rows.append((text, 2.0 * text.count("C") - 3.0 * text.count("O")))
    return rows


def test_regressor_learns_a_character_count_and_the_cli_reaches_it(tmp_path, capsys):
    train = write_csv(tmp_path / "train.csv", molecules(160, 1))
    valid = write_csv(tmp_path / "valid.csv", molecules(40, 2))
    run = tmp_path / "run"
    argv = ["train", "regression", "--data.dataset", "null", "--data.train", train, "--data.valid", valid,
            "--data.test", valid, "--data.text_column", "smiles", "--data.target_column", "expt",
            "--model.hidden_size", "32", "--trainer.max_epochs", "25", "--trainer.lr", "0.01",
            "--trainer.progress", "false", "--trainer.plot", "false", "--output_dir", str(run)]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()

    assert main(["eval", str(run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["task"] == "regression" and result["examples"] == 40
    assert result["rmse"] < 0.35 * result["mean_predictor_rmse"], result  # learnt far more than the mean

    assert main(["predict", str(run), "CCCC", "OOO", "--json"]) == 0
    predictions = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [p["input"] for p in predictions] == ["CCCC", "OOO"]
    assert predictions[0]["prediction"] > predictions[1]["prediction"] + 5  # 8 vs -9

    assert main(["generate", str(run)]) == 2  # a regression model offers `predict` only
    assert "needs a model of task" in capsys.readouterr().err


def test_metrics_against_hand_computed_values():
    metrics = regression_metrics([1.0, 2.0, 4.0], [1.0, 3.0, 3.0])
    assert metrics["rmse"] == pytest.approx((2 / 3) ** 0.5)
    assert metrics["mae"] == pytest.approx(2 / 3)
    assert metrics["r2"] == pytest.approx(1 - 2 / (8 / 3))


def test_split_is_fixed_and_disjoint():
    rows = [(f"C{i}", float(i)) for i in range(100)]
    splits = split_examples(rows)
    assert [len(splits[s]) for s in ("train", "valid", "test")] == [80, 10, 10]
    assert splits == split_examples(rows)
    assert len({t for part in splits.values() for t, _ in part}) == 100


@pytest.mark.parametrize(
    ("text", "message"),
    [("smiles\nCC\n", "expected columns"), ("smiles,expt\nCC,abc\n", "f.csv:2: expt must be a number"),
     ("smiles,expt\nCC,nan\n", "must be finite"), ("smiles,expt\n,1.0\n", "empty smiles"), ("smiles,expt\n", "no rows")],
)  # fmt: skip
def test_bad_csv_is_named(text, message):
    with pytest.raises(DataError, match=message):
        read_csv_examples(text, "smiles", "expt", "f.csv")

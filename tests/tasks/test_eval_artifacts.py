"""`rnnlab eval` writes nothing into a model directory: a labelling task's confusion plot is an artifact that
the task returns and the command line writes under `--out DIR` only."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

from rnnlab.cli import main
from rnnlab.tasks.registry import EvalRequest, get_task
from rnnlab.verbs import Artifact

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def write_examples(path: Path, count: int, seed: int) -> None:
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        label = rng.choice(["pos", "neg"])
        words = rng.sample(["the", "film", "was", "plot", "actors"], 3)
        words.insert(rng.randrange(4), "great" if label == "pos" else "awful")
        lines.append(f"{label}\t{' '.join(words)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory) -> Path:
    """A tiny classifier trained through the command line (a few steps: its accuracy does not matter)."""
    root = tmp_path_factory.mktemp("eval-artifacts")
    write_examples(root / "train.tsv", 24, 0)
    write_examples(root / "valid.tsv", 8, 1)
    torch.manual_seed(0)
    assert main(["train", "classifier", "data.dataset=null", f"data.train={root / 'train.tsv'}",
                 f"data.valid={root / 'valid.tsv'}", "model.word_dim=4", "model.hidden_size=4", "batch_size=8",
                 f"output_dir={root / 'run'}", "trainer.max_epochs=1", "trainer.progress=false",
                 "trainer.device=cpu"]) == 0  # fmt: skip
    return root / "run" / "best"


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under `directory` (relative path -> bytes)."""
    return {str(path.relative_to(directory)): path.read_bytes() for path in sorted(directory.rglob("*")) if path.is_file()}


def test_evaluate_returns_the_plot_as_an_artifact(classifier_dir):
    before = snapshot(classifier_dir)
    result = get_task("classifier").evaluate(classifier_dir, EvalRequest(split="valid"))
    (artifact,) = result["artifacts"]
    assert isinstance(artifact, Artifact) and artifact.name == "confusion.png"
    assert artifact.media_type == "image/png" and artifact.data.startswith(PNG)
    assert "confusion_png" not in result
    assert snapshot(classifier_dir) == before


def test_eval_writes_nothing_into_the_model_directory(classifier_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # nor into the current directory
    before = snapshot(classifier_dir)
    run_dir = snapshot(classifier_dir.parent)
    assert main(["eval", str(classifier_dir), "--split", "valid"]) == 0
    captured = capsys.readouterr()
    assert "examples 8" in captured.out and "written" not in captured.out
    assert "pass --out DIR to save: confusion.png" in captured.err
    assert snapshot(classifier_dir) == before and snapshot(classifier_dir.parent) == run_dir
    assert list(tmp_path.iterdir()) == []

    out = tmp_path / "pictures" / "eval"  # created if missing
    assert main(["eval", str(classifier_dir.parent), "--split", "valid", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert (out / "confusion.png").read_bytes().startswith(PNG)
    assert f"confusion plot: {out / 'confusion.png'}" in captured.err
    assert [path.name for path in out.iterdir()] == ["confusion.png"]  # no temporary file left
    assert snapshot(classifier_dir) == before and snapshot(classifier_dir.parent) == run_dir


def test_eval_json_lists_the_written_artifacts(classifier_dir, tmp_path, capsys):
    assert main(["eval", str(classifier_dir), "--split", "valid", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert "artifacts" not in printed and printed["task"] == "classifier" and printed["examples"] == 8
    assert main(["eval", str(classifier_dir), "--split", "valid", "--json", "--out", str(tmp_path)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["artifacts"] == [
        {"name": "confusion.png", "media_type": "image/png", "path": str(tmp_path / "confusion.png")}
    ]
    assert (tmp_path / "confusion.png").read_bytes().startswith(PNG)


def test_an_unwritable_out_is_refused_before_evaluating(classifier_dir, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    assert main(["eval", str(classifier_dir), "--split", "valid", "--out", str(blocker)]) == 2
    captured = capsys.readouterr()
    assert "cannot write artifact directory" in captured.err and "it is a file" in captured.err
    assert captured.out == ""  # refused before the evaluation printed anything

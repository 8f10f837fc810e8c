"""The text-classification kit (rnnlab.labelling): a new classification-like task is its config, a reader, a
dataset and one call, and then trains, evaluates and classifies from the command line like `classifier`.

The task ("parity": digit strings labelled even/odd by how many odd digits they hold) is what a user writes;
the block between the two rulers is the whole of it, and docs/labelling.md shows the same lines.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field

import pytest

from rnnlab.cli import main
from rnnlab.data import registry as datasets
from rnnlab.data.labelled import LabelledText, read_labelled_file
from rnnlab.data.registry import SPLITS, DatasetEntry, Source, register_dataset
from rnnlab.errors import DataError
from rnnlab.labelling import TextClassifierConfig, TextClassifierDataConfig, text_classification_task
from rnnlab.tasks import registry
from rnnlab.tasks.registry import register_task

# --- the task: config, reader, generated dataset, one call --------------------------------------------

@dataclass
class ParityData(TextClassifierDataConfig):
    dataset: str | None = "parity-digits"  # or None and data.train=FILE (label<TAB>digits lines)


@dataclass
class ParityConfig(TextClassifierConfig):
    data: ParityData = field(default_factory=ParityData)
    output_dir: str = "runs/parity"


def parity(digits: str) -> str:
    return "odd" if sum(int(d) % 2 for d in digits.split()) % 2 else "even"


def read_parity(path: str) -> list[LabelledText]:
    examples = read_labelled_file(path)  # label<TAB>text lines; errors name the file and line
    for x in examples:
        if x.label not in ("even", "odd") or not x.text.replace(" ", "").isdigit():
            raise DataError(f"{path}:{x.line}: expected 'even|odd<TAB>digits separated by spaces'")
    return examples


def generate(entry, out, seed):
    rng = random.Random(seed)
    sizes = {"train": 400, "valid": 60, "test": 60}
    for split, count in sizes.items():
        rows = [" ".join(rng.choices("0123456789", k=rng.randint(1, 3))) for _ in range(count)]
        (out / f"{split}.tsv").write_text("".join(f"{parity(r)}\t{r}\n" for r in rows), encoding="utf-8")
    return "", sizes


def register_parity() -> None:
    register_dataset(DatasetEntry(
        "parity-digits", "labelled", "digits, even/odd by the count of odd digits", Source("generated", seed=7),
        "CC0-1.0", fetch=generate, load=lambda entry, where: {s: read_parity(str(where / f"{s}.tsv")) for s in SPLITS}))
    register_task(text_classification_task("parity", ParityConfig, read_parity, summary="parity of odd digits"))
# --------------------------------------------------------------------------------------------------------


@pytest.fixture
def parity_task(monkeypatch, tmp_path):
    """The parity task and dataset registered for one test; both registries restored afterwards."""
    registry.discover_tasks()
    monkeypatch.setattr(registry, "_TASKS", dict(registry._TASKS))
    monkeypatch.setattr(registry, "_LIVE", registry._LIVE)
    monkeypatch.setattr(registry, "_WARNINGS", list(registry._WARNINGS))
    monkeypatch.setattr(registry, "_PRINTED", set(registry._PRINTED))
    datasets.list_datasets()
    monkeypatch.setattr(datasets, "_REGISTRY", dict(datasets._REGISTRY))
    monkeypatch.setattr(datasets, "_ORIGINS", dict(datasets._ORIGINS))
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "cache"))
    register_parity()
    return registry.get_task("parity")


def test_a_classification_task_made_with_the_kit_trains_evaluates_and_classifies(parity_task, tmp_path, capsys):
    assert parity_task.origin == __name__  # the registry tells it apart from the shipped classifier
    assert parity_task.verb("classify") is registry.get_task("classifier").verb("classify")
    run = tmp_path / "run"
    assert main(["train", "parity", "model.word_dim=8", "model.hidden_size=16", "model.dropout=0",
                 "model.pooling=last", "batch_size=16", "trainer.max_epochs=12", "trainer.lr=0.02",
                 "trainer.progress=false", "trainer.device=cpu", "trainer.plot=false", f"output_dir={run}"]) == 0
    saved = json.loads((run / "best" / "config.json").read_text())
    assert saved["task"] == "parity" and saved["config"]["data"]["dataset"] == "parity-digits"
    assert json.loads((run / "best" / "vocab.json").read_text())["labels"] == ["even", "odd"]
    capsys.readouterr()

    assert main(["eval", str(run), "--split", "test", "--json", "--out", str(tmp_path / "plots")]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["examples"] == 60 and result["labels"] == ["even", "odd"] and result["accuracy"] > 0.8
    assert (tmp_path / "plots" / "confusion.png").stat().st_size > 0

    (tmp_path / "mine.tsv").write_text("odd\t7\neven\t2 4\n")  # --data FILE goes through the task's reader
    assert main(["eval", str(run), "--data", str(tmp_path / "mine.tsv")]) == 0
    assert "examples 2  accuracy" in capsys.readouterr().out
    (tmp_path / "bad.tsv").write_text("odd\t7\nodd\tseven\n")
    assert main(["eval", str(run), "--data", str(tmp_path / "bad.tsv")]) != 0
    assert "bad.tsv:2: expected 'even|odd<TAB>digits" in capsys.readouterr().err

    assert main(["classify", str(run), "1", "2 2", "--top-k", "2", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["text"] for line in lines] == ["1", "2 2"]
    assert all(set(line["probabilities"]) == {"even", "odd"} for line in lines)
    assert sum(line["label"] == parity(line["text"]) for line in lines) >= 1


def test_the_kit_task_is_gone_after_the_fixture():
    assert "parity" not in registry.discover_tasks()
    assert not datasets.is_registered("parity-digits")

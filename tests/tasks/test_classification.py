"""Sentence classifier and pooling: references (torch LSTM final states), properties, a tiny training run."""

from __future__ import annotations

import random

import pytest
import torch

from rnnlab.cli import main
from rnnlab.config import load_config
from rnnlab.errors import DataError
from rnnlab.nn.pooling import AttentionPooling, last_state, masked_max, masked_mean
from rnnlab.tasks.classification import ClassifierConfig, load_classifier, read_labelled_file, train
from rnnlab.tasks.labelling_common import run_packed


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models: torch's thread pool only adds contention on a shared CPU (5x slower under load)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_last_state_equals_torch_final_hidden_states():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 4, batch_first=True, bidirectional=True)
    x = torch.randn(3, 5, 3)
    lengths = torch.tensor([5, 2, 3])
    mask = torch.arange(5)[None] < lengths[:, None]
    states = run_packed(lstm, x, lengths)
    pooled = last_state(states, mask, bidirectional=True)
    for i, n in enumerate(lengths.tolist()):
        _, (h, _) = lstm(x[i : i + 1, :n])  # the sentence alone, no padding: h (2, 1, 4)
        assert torch.allclose(pooled[i], torch.cat([h[0, 0], h[1, 0]]), atol=1e-6)


def test_masked_pooling_ignores_padding():
    states = torch.tensor([[[1.0, -1.0], [3.0, 5.0], [100.0, 100.0]]])
    mask = torch.tensor([[True, True, False]])
    assert masked_mean(states, mask).tolist() == [[2.0, 2.0]]
    assert masked_max(states, mask).tolist() == [[3.0, 5.0]]
    attention = AttentionPooling(2)
    pooled, weights = attention(states, mask)
    assert weights[0, 2] == 0 and weights.sum().item() == pytest.approx(1.0)
    assert torch.allclose(pooled, (weights.unsqueeze(2) * states.masked_fill(~mask[..., None], 0)).sum(1))


def write_examples(path, count: int, seed: int) -> None:
    rng = random.Random(seed)
    filler = ["the", "film", "was", "plot", "actors", "really", "quite"]
    lines = []
    for _ in range(count):
        label = rng.choice(["pos", "neg"])
        words = rng.sample(filler, 4)
        words.insert(rng.randrange(5), "great" if label == "pos" else "awful")
        lines.append(f"{label}\t{' '.join(words)}")
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("pooling", ["attention"])
def test_classifier_learns_keyword_sentiment(tmp_path, capsys, pooling):
    write_examples(tmp_path / "train.tsv", 48, 0)
    write_examples(tmp_path / "valid.tsv", 16, 1)
    config = load_config(ClassifierConfig, None, {
        "data.dataset": None, "data.train": str(tmp_path / "train.tsv"), "data.valid": str(tmp_path / "valid.tsv"),
        "model.word_dim": 8, "model.hidden_size": 8, "model.dropout": 0.0, "model.pooling": pooling,
        "batch_size": 8, "output_dir": str(tmp_path / "run"), "trainer.max_epochs": 15, "trainer.lr": 0.03,
        "trainer.progress": False, "trainer.device": "cpu", "trainer.metric": "accuracy", "trainer.mode": "max",
    })
    torch.manual_seed(0)
    assert train(config)["best_value"] == pytest.approx(1.0)
    classifier = load_classifier(tmp_path / "run" / "best")
    probs = classifier.probabilities(["the plot was great", "awful actors"])
    assert probs[0]["pos"] > 0.5 > probs[1]["pos"]
    assert sum(probs[0].values()) == pytest.approx(1.0)
    assert main(["classify", str(tmp_path / "run" / "best"), "really great film", "--top-k", "2"]) == 0
    assert capsys.readouterr().out.startswith("pos ")
    assert main(["eval", str(tmp_path / "run" / "best"), "--split", "valid"]) == 0
    assert "accuracy 100.00%" in capsys.readouterr().out


def test_labelled_file_errors(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("pos\tfine\nno tab here\n")
    with pytest.raises(DataError, match=r"bad\.tsv:2: expected 'label<TAB>text'"):
        read_labelled_file(str(bad))
    bad.write_text("pos\t   \n")
    with pytest.raises(DataError, match=r"bad\.tsv:1: empty sentence"):
        read_labelled_file(str(bad))

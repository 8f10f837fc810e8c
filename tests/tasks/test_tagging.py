"""Tagger: learns a tiny tagging problem end to end, CLI tag/eval round trips, clear user errors."""

from __future__ import annotations

import random

import pytest
import torch

from rnnlab.cli import main
from rnnlab.config import load_config
from rnnlab.data.tagged import read_tagged
from rnnlab.labelling import TokenVocab
from rnnlab.nn.word_char import WordCharEmbedding
from rnnlab.tasks.tagging import TaggerConfig, build, load_tagger
from rnnlab.train.run import train_task

PEOPLE = ["ann", "bob", "eve", "joe"]
PLACES = ["rome", "oslo", "lima"]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models: torch's thread pool only adds contention on a shared CPU (5x slower under load)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def make_conll(path, count: int, seed: int) -> None:
    """Sentences like "ann and bob went to new rome": names B-PER, places B-LOC (I-LOC after 'new')."""
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        tokens = [(rng.choice(PEOPLE), "B-PER"), ("went", "O"), ("to", "O")]
        if rng.random() < 0.5:
            tokens += [("new", "B-LOC"), (rng.choice(PLACES), "I-LOC")]
        else:
            tokens += [(rng.choice(PLACES), "B-LOC")]
        lines += [f"{w} {t}" for w, t in tokens] + [""]
    path.write_text("\n".join(lines))


def tiny_config(tmp_path, output: str, **extra) -> TaggerConfig:
    overrides = {
        "data.dataset": None, "data.train": str(tmp_path / "train.conll"),
        "data.valid": str(tmp_path / "valid.conll"), "model.word_dim": 8, "model.char_dim": 4,
        "model.char_hidden": 4, "model.hidden_size": 12, "model.dropout": 0.0, "model.word_dropout": 0.0,
        "batch_size": 8, "output_dir": str(tmp_path / output), "trainer.max_epochs": 25,
        "trainer.lr": 0.03, "trainer.progress": False, "trainer.metric": "f1", "trainer.mode": "max",
        "trainer.device": "cpu",
    }
    overrides.update(extra)
    return load_config(TaggerConfig, None, overrides)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("tagger")
    make_conll(tmp_path / "train.conll", 32, seed=0)
    make_conll(tmp_path / "valid.conll", 8, seed=1)
    torch.manual_seed(0)
    summary = train_task(build, tiny_config(tmp_path, "crf"))
    return tmp_path, summary


def test_bilstm_crf_learns_tiny_ner(trained):
    tmp_path, summary = trained
    assert summary["best_value"] == pytest.approx(1.0)
    tagger = load_tagger(tmp_path / "crf" / "best")
    assert tagger.scheme == "bio" and tagger.model.crf is not None
    # an unseen name: the character features and context still make it a person
    assert tagger.tag([["zed", "went", "to", "new", "oslo"]]) == [["B-PER", "O", "O", "B-LOC", "I-LOC"]]


def test_softmax_output_also_trains(tmp_path):
    make_conll(tmp_path / "train.conll", 16, seed=0)
    make_conll(tmp_path / "valid.conll", 4, seed=1)
    summary = train_task(build, tiny_config(tmp_path, "soft", **{"model.output": "softmax", "model.char_dim": 0,
                                                      "trainer.max_epochs": 15}))
    assert summary["last_eval"]["accuracy"] > 0.9


def test_cli_tag_and_eval(trained, tmp_path, capsys):
    model = str(trained[0] / "crf" / "best")
    assert main(["tag", model, "bob went to lima"]) == 0
    assert capsys.readouterr().out == "bob/B-PER went/O to/O lima/B-LOC\n"
    # CoNLL in, CoNLL out, other columns kept
    (tmp_path / "in.conll").write_text("eve X O\nwent Y O\nto Z O\nrome W O\n")
    assert main(["tag", model, "--input", str(tmp_path / "in.conll"), "--output", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o").read_text().splitlines()[0] == "eve X B-PER"
    assert [s.tags for s in read_tagged(tmp_path / "o")] == [["B-PER", "O", "O", "B-LOC"]]
    assert main(["eval", model, "--split", "valid"]) == 0
    out = capsys.readouterr().out
    assert "accuracy 100.00%" in out and "micro" in out
    assert not list((trained[0] / "crf" / "best").glob("confusion*"))  # nothing is written into the model
    assert main(["eval", model, "--split", "valid", "--out", str(tmp_path / "pictures")]) == 0
    assert (tmp_path / "pictures" / "confusion.png").read_bytes().startswith(b"\x89PNG")
    assert f"confusion plot: {tmp_path / 'pictures' / 'confusion.png'}" in capsys.readouterr().err


@pytest.mark.parametrize(
    "content, message",
    [
        ("ann B-PER\nwent O\nto B-CITY\n", r"bad\.conll:3: unknown tag 'B-CITY'"),
        ("ann B-PER\nwent O X\n", r"bad\.conll:2: expected 2 columns"),
    ],
)
def test_cli_user_errors_have_file_and_line_and_no_traceback(trained, tmp_path, capsys, content, message):
    bad = tmp_path / "bad.conll"
    bad.write_text(content)
    assert main(["eval", str(trained[0] / "crf" / "best"), "--data", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    import re

    assert re.search(message, err)


def test_cli_rejects_empty_sentence(trained, capsys):
    assert main(["tag", str(trained[0] / "crf" / "best"), "   "]) == 2
    assert "empty sentence" in capsys.readouterr().err


def test_char_features_do_not_depend_on_batch_padding():
    torch.manual_seed(0)
    vocab = TokenVocab.build([["hello", "a", "wonderful", "day"]], lowercase=True, min_freq=1, max_size=None)
    embed = WordCharEmbedding(len(vocab.words), 3, len(vocab.chars), 4, 5).eval()
    alone = vocab.encode([["hello", "day"]])
    padded = vocab.encode([["hello", "day"], ["a", "wonderful", "day", "a"]])
    out_alone = embed(alone["words"], alone["mask"], alone["chars"])
    out_padded = embed(padded["words"], padded["mask"], padded["chars"])
    assert torch.allclose(out_alone[0], out_padded[0, :2], atol=1e-6)

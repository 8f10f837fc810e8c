"""Bidirectional cloze: backward states against a reference, which context each head may see, training."""

from __future__ import annotations

import pytest
import torch

from rnnlab.cli import main
from rnnlab.config import load_config
from rnnlab.data.vocab import Vocabulary
from rnnlab.nn.cloze import BiCloze, ClozeModelConfig, reverse_padded
from rnnlab.tasks.cloze import ClozeConfig, ClozeModel, build
from rnnlab.train.run import train_task


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models: torch's thread pool only adds contention on a shared CPU (5x slower under load)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_reverse_padded_keeps_padding_in_place():
    x = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0]])
    assert reverse_padded(x, torch.tensor([3, 2])).tolist() == [[3, 2, 1, 0], [5, 4, 0, 0]]


def test_backward_states_match_running_on_each_reversed_sentence():
    torch.manual_seed(0)
    model = BiCloze(ClozeModelConfig(embedding_dim=4, hidden_size=5, dropout=0.0), 12).eval()
    ids = torch.tensor([[2, 5, 6, 7, 3], [2, 8, 3, 0, 0]])
    lengths = torch.tensor([5, 3])
    _, backward = model.states(ids, lengths)
    for i, n in enumerate(lengths.tolist()):
        reversed_ids = ids[i, :n].flip(0)[None]
        reference, _ = model.backward_rnn(model.embed(reversed_ids))
        assert torch.allclose(backward[i, :n], reference[0].flip(0), atol=1e-6)


def test_forward_head_ignores_the_right_context_and_the_two_sided_head_uses_it():
    torch.manual_seed(0)
    vocab = Vocabulary([*Vocabulary.build([]).tokens, "i", "am", "very", "not", "hungry", "sleepy"])
    model = ClozeModel(BiCloze(ClozeModelConfig(embedding_dim=6, hidden_size=7, dropout=0.0), len(vocab)), vocab,
                       ClozeConfig())
    both_a, forward_a = model.blank_distributions("i am ___ very hungry".split())
    both_b, forward_b = model.blank_distributions("i am ___ not sleepy".split())
    assert torch.allclose(forward_a, forward_b)
    assert not torch.allclose(both_a, both_b)
    assert both_a.sum().item() == pytest.approx(1.0) and both_a[:4].sum() == 0  # no specials offered


def test_trained_cloze_prefers_the_word_the_right_context_demands(tmp_path, capsys):
    # "the X barks" -> dog, "the X meows" -> cat: only the right-hand word tells them apart.
    text = "\n".join(["the dog barks", "the cat meows"] * 40)
    for split in ("train", "valid", "test"):
        (tmp_path / f"{split}.txt").write_text(text + "\n")
    config = load_config(ClozeConfig, None, {
        "data.corpus": str(tmp_path), "model.embedding_dim": 8, "model.hidden_size": 16, "model.dropout": 0.0,
        "batch_size": 16, "output_dir": str(tmp_path / "run"), "trainer.max_epochs": 12, "trainer.lr": 0.03,
        "trainer.progress": False, "trainer.device": "cpu",
    })
    torch.manual_seed(0)
    train_task(build, config)
    assert main(["cloze", str(tmp_path / "run" / "best"), "the ___ meows", "--top-k", "2"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert rows[0].split()[0] == "cat"  # bidirectional top choice
    assert main(["cloze", str(tmp_path / "run" / "best"), "the ___ barks ___"]) == 2
    assert "exactly one blank" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "run"), "--split", "valid"]) == 0  # a run directory: uses best/
    out = capsys.readouterr().out
    both = float(out.split("bidirectional (left + right): loss ")[1].split()[0])
    forward = float(out.split("forward only (left):")[1].split("loss ")[1].split()[0])
    assert both < forward  # the right-hand word tells dog from cat; the left context cannot

"""Sentence classifier and pooling: references (torch LSTM final states), properties, a tiny training run."""

from __future__ import annotations

import random

import pytest
import torch

from rnnlab.cli import main
from rnnlab.config import load_config
from rnnlab.errors import DataError
from rnnlab.nn.pooling import AttentionPooling, last_state, masked_max, masked_mean
from rnnlab.nn.recurrent import run_packed
from rnnlab.tasks.classification import ClassifierConfig, build, load_classifier, read_labelled_file
from rnnlab.train.run import train_task


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
    assert train_task(build, config)["best_value"] == pytest.approx(1.0)
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


@pytest.fixture(scope="module")
def word_lm(tmp_path_factory):
    """A tiny word-level LM whose vocabulary has a word ("superb") the classifier data never shows."""
    from rnnlab.config import config_from_dict
    from rnnlab.tasks.language_model import LMTaskConfig
    from rnnlab.tasks.language_model import build as build_lm

    directory = tmp_path_factory.mktemp("lm")
    rng = random.Random(0)
    words = ["the", "film", "was", "great", "awful", "superb", "plot", "actors"]
    (directory / "text.txt").write_text("\n".join(" ".join(rng.sample(words, 5)) for _ in range(200)) + "\n")
    config = config_from_dict(LMTaskConfig, {
        "data": {"corpus": str(directory / "text.txt"), "level": "word"},
        "model": {"embedding_size": 8, "hidden_size": 8, "num_layers": 1},
        "trainer": {"max_steps": 4, "max_epochs": None, "progress": False, "eval_every": 4},
        "batch_size": 4, "bptt": 8, "output_dir": str(directory / "run"),
    })
    train_task(build_lm, config)
    return directory / "run"


def test_pretrained_lm_starts_embeddings_and_forward_encoder(word_lm, tmp_path, capsys):
    from rnnlab.labelling import TokenVocab
    from rnnlab.labelling.pretrained_lm import extend_vocabulary, initialise_from_lm, read_pretrained_lm
    from rnnlab.nn.classifier import BiRNNClassifier, ClassifierModelConfig

    lm = read_pretrained_lm(word_lm)
    vocab = TokenVocab.build([["the", "great", "film", "unheard"]], lowercase=True, min_freq=1, max_size=None)
    words = extend_vocabulary(vocab.words, lm, lowercase=True)
    assert words.tokens[: len(vocab.words)] == vocab.words.tokens  # training words keep their ids
    assert "superb" in words and "unheard" in words and len(set(words.tokens)) == len(words)
    model = BiRNNClassifier(ClassifierModelConfig(word_dim=8, hidden_size=8), len(words), len(vocab.chars), 2)
    before_reverse = model.rnn.weight_hh_l0_reverse.clone()
    summary = initialise_from_lm(model.embed.words, words, model.rnn, "lstm", lm, lowercase=True)
    assert "forward LSTM of layer 0" in summary
    for row, word in enumerate(lm.words):
        assert torch.equal(model.embed.words.weight[words.token_to_id(word)], lm.embedding[row])
    assert torch.equal(model.rnn.weight_ih_l0, lm.layer0["weight_ih_l0"])
    assert torch.equal(model.rnn.weight_hh_l0_reverse, before_reverse)  # the backward direction starts fresh

    # end to end: the LM word the labelled data never shows is in the trained classifier's vocabulary
    write_examples(tmp_path / "train.tsv", 32, 0)
    config = load_config(ClassifierConfig, None, {
        "data.dataset": None, "data.train": str(tmp_path / "train.tsv"), "model.word_dim": 8,
        "model.hidden_size": 8, "model.pretrained_lm": str(word_lm), "output_dir": str(tmp_path / "run"),
        "trainer.max_epochs": 1, "trainer.progress": False,
    })
    train_task(build, config)
    assert "started from" in capsys.readouterr().err
    assert "superb" in load_classifier(tmp_path / "run").vocab.words


def test_pretrained_lm_errors(word_lm, tmp_path):
    from rnnlab.errors import CheckpointError, ConfigError

    write_examples(tmp_path / "train.tsv", 16, 0)
    overrides = {"data.dataset": None, "data.train": str(tmp_path / "train.tsv"), "model.word_dim": 12,
                 "model.pretrained_lm": str(word_lm), "output_dir": str(tmp_path / "run"), "trainer.progress": False}
    with pytest.raises(ConfigError, match="word_dim is 12 but the language model .* has embedding_size 8"):
        train_task(build, load_config(ClassifierConfig, None, overrides))
    with pytest.raises(CheckpointError):
        train_task(build, load_config(ClassifierConfig, None, {**overrides, "model.pretrained_lm": str(tmp_path / "nothing")}))


@pytest.fixture(scope="module")
def source_classifier(tmp_path_factory):
    """The best/ directory of a tiny trained classifier (the first stage of a transfer)."""
    directory = tmp_path_factory.mktemp("source")
    write_examples(directory / "train.tsv", 32, 0)
    config = load_config(ClassifierConfig, None, {
        "data.dataset": None, "data.train": str(directory / "train.tsv"), "model.word_dim": 8,
        "model.hidden_size": 8, "output_dir": str(directory / "run"), "trainer.max_epochs": 1,
        "trainer.progress": False,
    })
    train_task(build, config)
    return directory / "run" / "best"


def test_init_from_keeps_the_source_vocabulary_and_weights(source_classifier, tmp_path, capsys):
    from rnnlab.labelling.transfer import copy_classifier_weights, merge_vocabularies

    source = load_classifier(source_classifier)
    (tmp_path / "train.tsv").write_text("pos\tgreat unseen words\nneg\tawful film\n" * 8)
    config = load_config(ClassifierConfig, None, {
        "data.dataset": None, "data.train": str(tmp_path / "train.tsv"), "model.word_dim": 8,
        "model.hidden_size": 8, "model.init_from": str(source_classifier), "output_dir": str(tmp_path / "run"),
        "trainer.max_epochs": 1, "trainer.lr": 1e-12, "trainer.progress": False,
    })
    train_task(build, config)
    assert "started from the classifier" in capsys.readouterr().err
    target = load_classifier(tmp_path / "run" / "last")
    words = target.vocab.words.tokens
    assert words[: len(source.vocab.words)] == source.vocab.words.tokens  # the source's words keep their ids
    assert "unseen" in words
    # lr ~0 (Adam steps are ~lr): the fine-tuned model is still the source, new rows appended
    rows = len(source.vocab.words)
    close = dict(atol=1e-9, rtol=0)
    torch.testing.assert_close(target.model.embed.words.weight[:rows], source.model.embed.words.weight, **close)
    torch.testing.assert_close(target.model.rnn.weight_hh_l0_reverse, source.model.rnn.weight_hh_l0_reverse, **close)
    torch.testing.assert_close(target.model.out.weight, source.model.out.weight, **close)

    # different labels: everything but the output layer carries over
    fresh = type(source.model)(source.config.model, rows + 2, len(source.vocab.chars), 3)
    out_before = fresh.out.weight.clone()
    summary = copy_classifier_weights(fresh, source.model, same_labels=False)
    assert "output layer starts fresh" in summary and "2 new vocabulary rows" in summary
    assert torch.equal(fresh.out.weight, out_before)
    assert torch.equal(fresh.embed.words.weight[:rows], source.model.embed.words.weight)
    merged = merge_vocabularies(source.vocab, source.vocab)
    assert merged.words.tokens == source.vocab.words.tokens


def test_init_from_errors(source_classifier, word_lm, tmp_path):
    from rnnlab.errors import CheckpointError, ConfigError

    write_examples(tmp_path / "train.tsv", 16, 0)
    overrides = {"data.dataset": None, "data.train": str(tmp_path / "train.tsv"), "model.word_dim": 8,
                 "model.hidden_size": 16, "model.init_from": str(source_classifier),
                 "output_dir": str(tmp_path / "run"), "trainer.progress": False}
    with pytest.raises(ConfigError, match="model.hidden_size is 16 but the classifier in .* has 8"):
        train_task(build, load_config(ClassifierConfig, None, overrides))
    with pytest.raises(ConfigError, match="give one"):
        train_task(build, load_config(ClassifierConfig, None, {**overrides, "model.hidden_size": 8,
                                                   "model.pretrained_lm": str(word_lm)}))
    with pytest.raises(CheckpointError):
        train_task(build, load_config(ClassifierConfig, None, {**overrides, "model.init_from": str(tmp_path / "nothing")}))

"""The cell registry: names, errors, tuple state read from the cell, and a cell registered here (a minimal
gated unit) running in every model and in the inspection tools with no other change."""

import ast
from pathlib import Path

import pytest
import torch
from torch import nn

import rnnlab.nn as rnn_nn
from rnnlab.cli import main
from rnnlab.errors import ConfigError
from rnnlab.nn import (
    GRU,
    LSTM,
    LayerNormLSTMCell,
    Recurrent,
    RecurrentCell,
    cell_names,
    get_cell,
    make_recurrent,
    record_gates,
    register_cell,
    unregister_cell,
)
from rnnlab.nn.classifier import BiRNNClassifier, ClassifierModelConfig
from rnnlab.nn.cloze import BiCloze, ClozeModelConfig
from rnnlab.nn.language_model import RNNLanguageModel, RNNLMConfig
from rnnlab.nn.seq2seq import Seq2SeqConfig, build_seq2seq
from rnnlab.nn.tagger import BiRNNTagger, TaggerModelConfig


class MinimalGatedUnit(RecurrentCell):
    """Minimal gated unit (Zhou et al. 2016): one gate f; ``h' = (1 - f) h + f tanh(W_n x + U_n (f h) + b_n)``."""

    gate_names = ("f", "n", "h")

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size)
        self.weight_ih = nn.Parameter(torch.randn(2 * hidden_size, input_size) * 0.3)
        self.weight_hh = nn.Parameter(torch.randn(2 * hidden_size, hidden_size) * 0.3)
        self.bias = nn.Parameter(torch.zeros(2 * hidden_size))

    def forward_with_gates(self, x, h):
        x_f, x_n = (x @ self.weight_ih.t() + self.bias).chunk(2, dim=1)
        u_f, u_n = self.weight_hh.chunk(2, dim=0)
        f = torch.sigmoid(x_f + h @ u_f.t())
        n = torch.tanh(x_n + (f * h) @ u_n.t())
        h_new = (1 - f) * h + f * n
        return h_new, {"f": f, "n": n, "h": h_new}


@pytest.fixture
def mgu():
    """'mgu' registered for the duration of one test."""
    register_cell("mgu", MinimalGatedUnit, "minimal gated unit (one forget gate)")
    yield "mgu"
    unregister_cell("mgu")


def backward_ok(loss: torch.Tensor, model: nn.Module) -> None:
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


# ------------------------------------------------------------------------------------------------ registry
def test_built_in_names_and_alias():
    assert cell_names()[:4] == ("rnn", "lstm", "gru", "lnlstm")
    assert "rnn_relu" in cell_names() and "layernorm_lstm" not in cell_names()  # an alias, not a second cell
    assert get_cell("layernorm_lstm") is get_cell("lnlstm")
    assert get_cell("rnn_relu").make_cell(3, 4).nonlinearity == "relu"
    assert isinstance(make_recurrent("lstm", 3, 4), LSTM) and isinstance(make_recurrent("gru", 3, 4), GRU)
    assert make_recurrent("rnn", 3, 4).nonlinearity == "tanh"
    assert isinstance(make_recurrent("lnlstm", 3, 4), Recurrent)  # no fused kernel: the explicit layer


def test_unknown_name_is_a_config_error_naming_the_known_cells():
    with pytest.raises(ConfigError, match="unknown cell 'lstn'; known cells: rnn, lstm, gru, lnlstm"):
        get_cell("lstn")
    with pytest.raises(ConfigError, match="unknown cell"):
        make_recurrent("lstn", 3, 4)
    with pytest.raises(ConfigError, match="model.cell: unknown cell 'lstn'"):
        RNNLMConfig(cell="lstn")
    with pytest.raises(ConfigError, match="model.rnn: unknown cell"):
        TaggerModelConfig(rnn="lstn")
    with pytest.raises(ConfigError, match="model.decoder_cell: unknown cell"):
        Seq2SeqConfig(decoder_cell="lstn").validate()


def test_registration_errors():
    with pytest.raises(ValueError, match="already taken by cell 'lstm'"):
        register_cell("lstm", LayerNormLSTMCell, "again")
    with pytest.raises(ValueError, match="already taken by cell 'lnlstm'"):
        register_cell("other", LayerNormLSTMCell, "x", aliases=("layernorm_lstm",))
    with pytest.raises(TypeError, match="RecurrentCell subclass"):
        register_cell("linear", nn.Linear, "not a cell")
    with pytest.raises(TypeError, match="state_is_tuple"):
        register_cell("bad", LayerNormLSTMCell, "tuple cell, tensor-state fused layer", fused=GRU)
    assert "other" not in cell_names() and "bad" not in cell_names()


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru", "lnlstm", "rnn_relu"])
def test_tuple_state_comes_from_the_cell_and_the_layer(name):
    spec = get_cell(name)
    layer = spec.make_layer(3, 4, num_layers=2)
    assert spec.state_is_tuple == spec.cell.state_is_tuple == layer.state_is_tuple
    _, state = layer(torch.randn(5, 2, 3))
    assert isinstance(state, tuple) == layer.state_is_tuple


def test_a_tuple_state_cell_with_any_name_is_treated_as_lstm_like():
    register_cell("memo", LayerNormLSTMCell, "an (h, c) cell whose name says nothing")
    try:
        lm = RNNLanguageModel(9, RNNLMConfig(cell="memo", embedding_size=4, hidden_size=4, num_layers=2))
        state = lm.init_state(3)
        assert isinstance(state, tuple) and len(state) == 2
        lm(torch.randint(0, 9, (5, 3)), state)
        model = build_seq2seq(Seq2SeqConfig(cell="gru", decoder_cell="memo", embed_dim=4, hidden_size=4), 9, 9, 1, 2, 0)
        assert model.decoder.lstm_like and model.bridge.decoder_lstm and not model.bridge.encoder_lstm
    finally:
        unregister_cell("memo")


def test_nn_imports_no_tasks_data_or_training():
    """nn/ holds blocks and models only: nothing about files, datasets or the trainer."""
    for path in Path(rnn_nn.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            for name in names:
                assert not name.startswith(("rnnlab.tasks", "rnnlab.data", "rnnlab.train", "rnnlab.lm")), (path, name)


def test_model_defaults_match_the_vocabulary_ids():
    from rnnlab.data.vocab import PAD_ID, UNK_ID
    from rnnlab.nn.word_char import WordCharEmbedding

    embed = WordCharEmbedding(10, 3, 5, 2, 2)
    assert (embed.pad_id, embed.unk_id, embed.words.padding_idx) == (PAD_ID, UNK_ID, PAD_ID)
    assert BiCloze(ClozeModelConfig(embedding_dim=3, hidden_size=4), 10).embed.padding_idx == PAD_ID


# ------------------------------------------------------------------------- a registered cell, everywhere
def test_custom_cell_in_the_language_model(mgu):
    torch.manual_seed(0)
    model = RNNLanguageModel(11, RNNLMConfig(cell=mgu, embedding_size=5, hidden_size=6, num_layers=2, dropout=0.1))
    assert isinstance(model.rnn, Recurrent) and isinstance(model.init_state(2), torch.Tensor)
    tokens = torch.randint(0, 11, (7, 2))
    logits, state = model(tokens, model.init_state(2))
    assert logits.shape == (7, 2, 11) and state.shape == (2, 2, 6)
    backward_ok(nn.functional.cross_entropy(logits.reshape(-1, 11), tokens.reshape(-1)), model)


@pytest.mark.parametrize("decoder_cell", ["mgu", "lstm"])
def test_custom_cell_in_seq2seq(mgu, decoder_cell):
    torch.manual_seed(0)
    config = Seq2SeqConfig(cell=mgu, decoder_cell=decoder_cell, embed_dim=5, hidden_size=6, encoder_layers=2,
                           decoder_layers=2, attention="bahdanau")  # fmt: skip
    model = build_seq2seq(config, 12, 13, 1, 2, 0)
    src, lengths, tgt = torch.randint(3, 12, (3, 6)), torch.tensor([6, 4, 2]), torch.randint(3, 13, (3, 5))
    logits, attention = model(src, lengths, tgt)
    assert logits.shape == (3, 5, 13) and attention.shape == (3, 5, 6)
    backward_ok(logits.sum(), model)
    hyps = model.eval().translate(src, lengths, method="beam", beam_size=2, max_len=4)
    assert len(hyps) == 3


def test_custom_cell_in_the_tagger_classifier_and_cloze(mgu):
    torch.manual_seed(0)
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    batch = {"words": torch.randint(2, 15, (2, 5)), "chars": torch.randint(2, 9, (2, 5, 4)), "mask": mask,
             "tags": torch.randint(0, 3, (2, 5))}  # fmt: skip
    sizes = dict(word_dim=5, char_dim=3, char_hidden=4, hidden_size=6)
    tagger = BiRNNTagger(TaggerModelConfig(rnn=mgu, num_layers=2, **sizes), 15, 9, ["O", "B-X", "I-X"], "bio")
    assert isinstance(tagger.embed.char_rnn, Recurrent)  # the character RNN uses the cell too
    backward_ok(tagger.loss(batch), tagger)
    assert tagger.predict(batch).shape == (2, 5)

    classifier = BiRNNClassifier(ClassifierModelConfig(rnn=mgu, pooling="attention", **sizes), 15, 9, 3)
    logits, weights = classifier(batch)
    assert logits.shape == (2, 3) and weights.shape == (2, 5)
    backward_ok(logits.sum(), classifier)

    cloze = BiCloze(ClozeModelConfig(rnn=mgu, embedding_dim=5, hidden_size=6), 15)
    forward_loss, both_loss, _, real = cloze.losses(batch["words"], torch.tensor([5, 3]))
    backward_ok((forward_loss + both_loss)[real].mean(), cloze)


def test_custom_cell_gate_trace_and_inspect_commands(mgu, tmp_path, capsys):
    from rnnlab.inspect.cost import measure_costs
    from rnnlab.inspect.gates import random_model_traces

    layer = make_recurrent(mgu, 3, 4)
    x = torch.randn(6, 1, 3)
    with record_gates(layer) as traces:
        output, _ = layer(x)
    gates, h = traces[""][(0, 0)], torch.zeros(1, 4)
    assert set(gates) == {"f", "n", "h"}
    for t in range(6):  # the trace recomputes the output
        h = (1 - gates["f"][t]) * h + gates["f"][t] * gates["n"][t]
        torch.testing.assert_close(h, output[t])

    traces = random_model_traces("abcabc", cell=mgu, hidden_size=4)
    assert [set(gates) for gates in traces.gates.values()] == [{"f", "n", "h"}]
    assert len(measure_costs(mgu, lengths=(3,), batch_size=2, hidden_size=4, repeats=1)) == 1

    out = tmp_path / "g.png"  # the CLI's --cell choices come from the registry
    assert main(["inspect", "gates", "--random", "abc abc", "--cell", mgu, "--hidden-size", "4", "--out", str(out)]) == 0
    assert out.stat().st_size > 1000
    with pytest.raises(SystemExit):
        main(["inspect", "cost", "--cell", "nope"])
    assert "choose from 'rnn', 'lstm', 'gru', 'lnlstm', 'rnn_relu', 'mgu'" in capsys.readouterr().err

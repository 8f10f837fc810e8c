"""Gate traces recompute the layer's outputs; features and tracking units are what they claim."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from rnnlab.inspect.gates import (
    Traces,
    chance_levels,
    language_model_traces,
    pearson,
    plot_gate_heatmaps,
    plot_tracking_units,
    random_model_traces,
    token_features,
    tracking_units,
)
from rnnlab.nn import GRU, LSTM, record_gates


def test_lstm_trace_recomputes_the_fused_output():
    torch.manual_seed(0)
    layer, x = LSTM(3, 5), torch.randn(7, 1, 3)
    fused, _ = layer(x)  # the fused path, no recording
    with record_gates(layer) as traces:
        layer(x)
    gates = traces[""][(0, 0)]
    c = torch.zeros(1, 5)
    for t in range(7):
        c = gates["f"][t] * c + gates["i"][t] * gates["g"][t]
        torch.testing.assert_close(c, gates["c"][t])
        torch.testing.assert_close(gates["o"][t] * torch.tanh(c), fused[t], rtol=1e-5, atol=1e-6)


def test_gru_trace_recomputes_the_fused_output():
    torch.manual_seed(0)
    layer, x = GRU(3, 4), torch.randn(6, 1, 3)
    fused, _ = layer(x)
    with record_gates(layer) as traces:
        layer(x)
    gates, h = traces[""][(0, 0)], torch.zeros(1, 4)
    for t in range(6):
        h = (1 - gates["z"][t]) * gates["n"][t] + gates["z"][t] * h
        torch.testing.assert_close(h, fused[t], rtol=1e-5, atol=1e-6)


def test_token_features_by_hand():
    features = token_features(list('a("b)"c)\nd'))
    assert features["inside quotes"].tolist() == [0, 0, 1, 1, 1, 0, 0, 0, 0, 0]
    assert features["bracket depth"].tolist() == [0, 1, 1, 1, 1, 1, 1, 0, 0, 0]  # ")" inside quotes ignored
    assert features["position in line"].tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 0, 1]
    poem = token_features(list("床前明月光，疑是\n举"))
    assert poem["position in clause"].tolist() == [1, 2, 3, 4, 5, 0, 1, 2, 0, 1]


def test_pearson_matches_numpy():
    rng = np.random.default_rng(0)
    values, feature = rng.normal(size=(20, 3)), rng.normal(size=20)
    expected = [np.corrcoef(values[:, j], feature)[0, 1] for j in range(3)]
    np.testing.assert_allclose(pearson(values, feature), expected)
    assert pearson(np.ones((5, 2)), np.arange(5.0)).tolist() == [0.0, 0.0]


def test_tracking_units_finds_a_planted_unit():
    tokens = list("f(a, (b)) + g(c)\nxy")
    rng = np.random.default_rng(0)
    hidden = rng.normal(size=(len(tokens), 6))
    hidden[:, 4] = 0.5 * token_features(tokens)["bracket depth"] - 1.0
    traces = Traces(tokens, {("rnn", 0, 0): {"h": hidden}})
    best = [u for u in tracking_units(traces, top=1) if u.feature == "bracket depth"][0]
    assert (best.gate, best.unit, best.correlation) == ("h", 4, pytest.approx(1.0))


def test_random_model_plots_one_file_per_layer_and_direction(tmp_path):
    traces = random_model_traces('x = ("a", [1])\n', "gru", hidden_size=4, num_layers=2, bidirectional=True)
    assert len(traces.gates) == 4 and set(next(iter(traces.gates.values()))) == {"r", "z", "n", "h"}
    paths = plot_gate_heatmaps(traces, tmp_path / "g.png")
    assert len(paths) == 4 and all(p.stat().st_size > 1000 for p in paths)
    plot_tracking_units(traces, tracking_units(traces), tmp_path / "u.png")
    assert (tmp_path / "u.png").stat().st_size > 1000


def test_language_model_traces_use_the_model_tokenizer_and_vocab():
    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding, self.rnn = torch.nn.Embedding(5, 3), LSTM(3, 4)

        def forward(self, ids):
            return self.rnn(self.embedding(ids))

    lm = SimpleNamespace(
        model=Model(),
        tokenizer=SimpleNamespace(tokenize=lambda text: text.split()),
        vocab=SimpleNamespace(encode=lambda tokens: [len(t) % 5 for t in tokens]),
    )
    traces = language_model_traces(lm, "one two three")
    assert traces.tokens == ["one", "two", "three"]
    assert traces.gates[("rnn", 0, 0)]["c"].shape == (3, 4)
    assert traces.baseline.gates[("rnn", 0, 0)]["c"].shape == (3, 4)


def test_fitting_the_char_model_lowers_its_loss():
    from rnnlab.inspect.gates import RandomCharModel, fit_char_model

    text = "ab(cd)ef" * 40
    model = RandomCharModel(text, "lstm", hidden_size=8)
    first = fit_char_model(model, text, steps=1, seq_len=16, batch_size=4)
    later = fit_char_model(model, text, steps=60, seq_len=16, batch_size=4)
    assert later < first
    traces = random_model_traces("ab(cd)", "gru", hidden_size=4, fit_steps=3, fit_text=text)
    assert traces.tokens == list("ab(cd)") and traces.baseline.tokens == traces.tokens
    changed = traces.gates[("rnn", 0, 0)]["z"] - traces.baseline.gates[("rnn", 0, 0)]["z"]
    assert np.abs(changed).max() > 0  # the baseline is the model before fitting
    assert set(chance_levels(traces)) == {"bracket depth", "position in line", "position in clause"}


def test_gates_report_draws_both_pictures(tmp_path):
    from rnnlab.inspect.gates import gates_report

    traces = random_model_traces('f("a(b)")\n', "lstm", hidden_size=4, fit_steps=2, fit_text="ab(cd)ef" * 12)
    report = gates_report(traces, tmp_path / "g.png", top=2)
    assert report.heatmaps == [tmp_path / "g.png"] and report.units_path == tmp_path / "g_units.png"
    assert report.units_path.stat().st_size > 1000 and set(report.chance) <= {u.feature for u in report.units}

"""The compiled path: same numbers as the explicit path, traces stay explicit, a one-line fallback.

The default tests compile with torch.compile's "aot_eager" backend (dynamo tracing and AOT autograd, the
same graphs, no C++ compiler: seconds, not minutes) and short chunks; the one test with the real inductor
backend is marked slow (`pytest -m slow tests/nn/test_compiled.py`).
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch._inductor.exc import CppCompileError

from rnnlab.errors import ConfigError
from rnnlab.nn import GRU, LSTM, RNN, LayerNormLSTMCell, Recurrent, compiled, record_gates
from rnnlab.nn.cell_registry import make_recurrent

LENGTHS = torch.tensor([7, 1, 4, 6])  # all differ, one of length 1; 7 steps = 3 chunks of 3 (one padded)


@pytest.fixture
def quick_compile(monkeypatch):
    monkeypatch.setattr(compiled, "BACKEND", "aot_eager")
    monkeypatch.setattr(compiled, "CHUNK", 3)


def _run(layer, x, lengths):
    out, state = layer(x, lengths=lengths)
    state = state if isinstance(state, tuple) else (state,)
    loss = out.pow(2).sum() + sum(s.pow(3).sum() for s in state)
    return out, state, torch.autograd.grad(loss, [x, *layer.parameters()])


def _assert_compiled_equals_explicit(make, lengths=LENGTHS):
    torch.manual_seed(0)
    explicit = make("explicit").double()
    compiled_layer = make("compiled").double()
    compiled_layer.load_state_dict(explicit.state_dict())
    x = torch.randn(7, 4, 3, dtype=torch.double, requires_grad=True)
    results = [_run(layer, x, lengths) for layer in (explicit, compiled_layer)]
    for a, b in zip(*[[r[0], *r[1], *r[2]] for r in results]):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-5)


def test_compiled_lstm_equals_explicit_two_layers_bidirectional(quick_compile):
    _assert_compiled_equals_explicit(lambda path: LSTM(3, 5, num_layers=2, bidirectional=True, path=path))


def test_compiled_gru_rnn_and_custom_cell_equal_explicit(quick_compile):
    _assert_compiled_equals_explicit(lambda path: GRU(3, 5, bidirectional=True, path=path))
    _assert_compiled_equals_explicit(lambda path: RNN(3, 5, nonlinearity="relu", path=path), lengths=None)
    _assert_compiled_equals_explicit(
        lambda path: Recurrent(LayerNormLSTMCell, 3, 5, bidirectional=True, path=path)
    )


def test_gate_traces_stay_on_the_explicit_path(quick_compile, monkeypatch):
    layer = Recurrent(LayerNormLSTMCell, 3, 4, path="compiled")
    monkeypatch.setattr(compiled, "run_direction_compiled", None)  # a compiled call would fail loudly
    with record_gates(layer) as traces:
        layer(torch.randn(5, 2, 3))
    assert traces[""][(0, 0)]["f"].shape == (5, 2, 4)


def test_unavailable_compiler_warns_once_in_one_line_and_runs_explicit(monkeypatch):
    monkeypatch.setattr(compiled, "_unavailable", "no C++ compiler found")
    torch.manual_seed(0)
    layer = LSTM(3, 4, bidirectional=True, path="compiled")
    x = torch.randn(6, 2, 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out, _ = layer(x)
    messages = [str(w.message) for w in caught]
    assert messages == ["LSTM: compiled path unavailable (no C++ compiler found); using the explicit path"]
    layer.path = "explicit"
    torch.testing.assert_close(out, layer(x)[0])


def test_a_compile_failure_falls_back(monkeypatch, quick_compile):
    def broken(*args, **kwargs):
        raise CppCompileError(["g++"], "cc1plus: not found")

    monkeypatch.setattr(compiled, "_get", lambda chunk: broken)
    monkeypatch.setattr(compiled, "_unavailable", None)
    layer = GRU(3, 4, path="compiled")
    with pytest.warns(UserWarning, match=r"^GRU: compiled path unavailable \(CppCompileError: C\+\+ compile error\)"):
        out, _ = layer(torch.randn(5, 2, 3))
    assert out.shape == (5, 2, 4)
    assert compiled.compile_unavailable_reason().startswith("CppCompileError")  # not retried


def test_paths_a_cell_does_not_have_are_one_line_errors():
    with pytest.raises(ValueError, match="path 'fused' needs a fused kernel"):
        Recurrent(LayerNormLSTMCell, 3, 4, path="fused")
    with pytest.raises(ValueError, match="path must be 'auto', 'fused', 'explicit' or 'compiled', got 'jit'"):
        LSTM(3, 4, path="jit")
    with pytest.raises(ConfigError, match="^model.path: cell 'lnlstm' has no fused kernel"):
        make_recurrent("lnlstm", 3, 4, path="fused", field="model.path")
    assert make_recurrent("lnlstm", 3, 4, path="compiled").path == "compiled"
    assert make_recurrent("lstm", 3, 4, path="compiled").path == "compiled"


@pytest.mark.slow
def test_inductor_compiled_lstm_and_layernorm_lstm_float32(monkeypatch):
    """The real backend (a C++ compiler): float32 outputs, states and gradients to 1e-5."""
    monkeypatch.setattr(compiled, "CHUNK", 4)
    for make in (lambda path: LSTM(3, 5, bidirectional=True, path=path),
                 lambda path: Recurrent(LayerNormLSTMCell, 3, 5, path=path)):  # fmt: skip
        torch.manual_seed(0)
        explicit, fast = make("explicit"), make("compiled")
        fast.load_state_dict(explicit.state_dict())
        x = torch.randn(7, 4, 3, requires_grad=True)
        with warnings.catch_warnings():
            # a fallback to explicit would hide a broken compiled path
            warnings.filterwarnings("error", message=".*compiled path unavailable")
            results = [_run(layer, x, LENGTHS) for layer in (explicit, fast)]
        for a, b in zip(*[[r[0], *r[1], *r[2]] for r in results]):
            torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5)


def test_models_take_the_compiled_path_from_their_config(quick_compile):
    from rnnlab.nn.seq2vec import SequenceToVector, SequenceToVectorConfig

    torch.manual_seed(0)
    mask = torch.arange(5) < torch.tensor([5, 1, 3]).unsqueeze(1)
    ids = torch.randint(2, 9, (3, 5)).masked_fill(~mask, 0)
    models = [SequenceToVector(SequenceToVectorConfig(cell=cell, embedding_size=3, hidden_size=4, execution=path,
                                                      bidirectional=False), 9, 1).double().eval()
              for cell, path in (("lnlstm", "explicit"), ("lnlstm", "compiled"))]  # fmt: skip
    models[1].load_state_dict(models[0].state_dict())
    assert models[1].rnn.path == "compiled"
    torch.testing.assert_close(models[1](ids, mask), models[0](ids, mask), rtol=0, atol=1e-6)


def test_a_cell_registered_not_compilable_refuses_the_compiled_path_in_one_line():
    from rnnlab.nn.cell_registry import register_cell, unregister_cell
    from rnnlab.nn.seq2vec import SequenceToVectorConfig

    register_cell("untraceable", LayerNormLSTMCell, "a cell torch.compile cannot trace", compilable=False)
    try:
        expected = r"^model.execution: cell 'untraceable' does not support the compiled path \(registered with "
        with pytest.raises(ConfigError, match=expected) as error:
            SequenceToVectorConfig(cell="untraceable", execution="compiled")
        assert "\n" not in str(error.value)
        assert SequenceToVectorConfig(cell="untraceable", execution="explicit").execution == "explicit"
    finally:
        unregister_cell("untraceable")

"""Layers: paths agree, traces are consistent, custom cells stack, dropout, state_dicts, bad input."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

from rnnlab.nn import GRU, LSTM, RNN, GRUCell, LayerNormLSTMCell, LSTMCell, Recurrent, RNNCell, record_gates


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_fused_equals_explicit_float32(cls):
    torch.manual_seed(0)
    layer = cls(6, 8, num_layers=2, bidirectional=True, batch_first=True)
    x = torch.randn(4, 9, 6)
    lengths = torch.tensor([9, 3, 7, 1])
    layer.path = "fused"
    fused = layer(x, lengths=lengths)
    layer.path = "explicit"
    explicit = layer(x, lengths=lengths)
    torch.testing.assert_close(fused[0], explicit[0], rtol=1e-5, atol=1e-6)
    for a, b in zip(fused[1] if cls is LSTM else [fused[1]], explicit[1] if cls is LSTM else [explicit[1]]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls,torch_cls", [(RNN, torch.nn.RNN), (LSTM, torch.nn.LSTM), (GRU, torch.nn.GRU)])
def test_state_dict_round_trip_both_ways(cls, torch_cls):
    ours = cls(3, 5, num_layers=2, bidirectional=True)
    ref = torch_cls(3, 5, num_layers=2, bidirectional=True)
    assert list(ours.state_dict()) == list(ref.state_dict())
    ref.load_state_dict(ours.state_dict())
    ours2 = cls(3, 5, num_layers=2, bidirectional=True)
    ours2.load_state_dict(ref.state_dict())
    for a, b in zip(ours.state_dict().values(), ours2.state_dict().values()):
        assert torch.equal(a, b)
    assert isinstance(ours, torch_cls)  # swapping torch.nn.LSTM for rnnlab.nn.LSTM keeps isinstance checks


def test_padding_never_leaks_into_final_state():
    torch.manual_seed(1)
    layer = LSTM(3, 4, bidirectional=True, path="explicit")
    x = torch.randn(6, 2, 3)
    lengths = torch.tensor([6, 2])
    _, (h_full, c_full) = layer(x, lengths=lengths)
    garbage = x.clone()
    garbage[2:, 1] = 1e3  # change only the padding of sequence 1
    out, (h_garbage, c_garbage) = layer(garbage, lengths=lengths)
    torch.testing.assert_close(h_full, h_garbage)
    torch.testing.assert_close(c_full, c_garbage)
    assert out[2:, 1].abs().max() == 0
    # The short sequence's states equal those of running it alone, unpadded.
    _, (h_alone, _) = layer(x[:2, 1:2])
    torch.testing.assert_close(h_full[:, 1:2], h_alone)


def test_lstm_trace_recomputes_outputs():
    torch.manual_seed(2)
    layer = LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    x = torch.randn(2, 5, 3)
    output, (h_n, c_n), trace = layer.forward_with_gates(x)
    assert set(trace) == {(0, 0), (0, 1), (1, 0), (1, 1)}
    for (layer_index, direction), gates in trace.items():
        assert set(gates) == {"i", "f", "g", "o", "c", "h"}
        assert all(g.shape == (5, 2, 4) for g in gates.values())  # (L, N, H), time-major
        c_prev = torch.zeros(2, 4)
        times = range(4, -1, -1) if direction else range(5)
        for t in times:
            c_t = gates["f"][t] * c_prev + gates["i"][t] * gates["g"][t]
            torch.testing.assert_close(gates["c"][t], c_t)
            torch.testing.assert_close(gates["h"][t], gates["o"][t] * torch.tanh(c_t))
            c_prev = c_t
        last = 0 if direction else 4  # the reverse direction's final state is its state at t = 0
        torch.testing.assert_close(c_n[2 * layer_index + direction], gates["c"][last])
    top = torch.cat([trace[(1, 0)]["h"], trace[(1, 1)]["h"]], dim=2).transpose(0, 1)
    torch.testing.assert_close(output, top)


def test_gru_trace_recomputes_outputs():
    torch.manual_seed(3)
    layer = GRU(3, 4)
    x = torch.randn(5, 2, 3)
    output, h_n, trace = layer.forward_with_gates(x)
    gates = trace[(0, 0)]
    h_prev = torch.zeros(2, 4)
    for t in range(5):
        h_t = (1 - gates["z"][t]) * gates["n"][t] + gates["z"][t] * h_prev
        torch.testing.assert_close(output[t], h_t)
        h_prev = h_t
    torch.testing.assert_close(h_n[0], h_prev)


def test_record_gates_in_a_bigger_model_and_the_fused_output_is_unchanged():
    torch.manual_seed(4)
    model = torch.nn.Sequential()
    model.add_module("rnn", LSTM(3, 4, num_layers=2))
    x = torch.randn(7, 2, 3)
    plain, _ = model.rnn(x)
    with record_gates(model) as traces:
        recorded, _ = model.rnn(x)
    torch.testing.assert_close(plain, recorded, rtol=1e-5, atol=1e-6)
    assert traces["rnn"][(1, 0)]["f"].shape == (7, 2, 4)
    assert model.rnn._gate_recorder is None  # recording ends with the block
    with pytest.raises(ValueError, match="no rnnlab recurrent layer"):
        with record_gates(torch.nn.Linear(2, 2)):
            pass


@pytest.mark.parametrize("cell_cls,layer_cls", [(LSTMCell, LSTM), (GRUCell, GRU), (RNNCell, RNN)])
def test_recurrent_with_builtin_cells_equals_layer(cell_cls, layer_cls):
    torch.manual_seed(5)
    generic = Recurrent(cell_cls, 3, 4, num_layers=2, bidirectional=True, batch_first=True)
    layer = layer_cls(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    with torch.no_grad():
        for name, cell in generic.cells.items():
            for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(cell, p).copy_(getattr(layer, f"{p}_{name}"))
    x = torch.randn(3, 6, 3)
    packed = pack_padded_sequence(x, torch.tensor([2, 6, 4]), batch_first=True, enforce_sorted=False)
    got, want = generic(packed), layer(packed)
    torch.testing.assert_close(got[0].data, want[0].data)
    for a, b in zip(got[1] if layer_cls is LSTM else [got[1]], want[1] if layer_cls is LSTM else [want[1]]):
        torch.testing.assert_close(a, b)


def test_layer_norm_lstm_stacks_bidirectionally_with_traces_and_gradients():
    torch.manual_seed(6)
    layer = Recurrent(LayerNormLSTMCell, 3, 5, num_layers=2, bidirectional=True)
    x = torch.randn(4, 2, 3, requires_grad=True)
    output, (h_n, c_n), trace = layer.forward_with_gates(x, lengths=torch.tensor([4, 2]))
    assert output.shape == (4, 2, 10) and h_n.shape == (4, 2, 5) and c_n.shape == (4, 2, 5)
    assert trace[(1, 1)]["f"].shape == (4, 2, 5)
    assert output[2:, 1].abs().max() == 0
    output.sum().backward()
    assert x.grad is not None and x.grad[:2, 1].abs().sum() > 0 and x.grad[2:, 1].abs().sum() == 0
    assert {n.split(".")[1] for n, _ in layer.named_parameters()} == {"l0", "l0_reverse", "l1", "l1_reverse"}


def test_gradcheck_explicit_stacked_bidirectional():
    torch.manual_seed(7)
    layer = LSTM(2, 2, num_layers=2, bidirectional=True, path="explicit").double()
    x = torch.randn(3, 2, 2, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([3, 2])
    assert torch.autograd.gradcheck(lambda x: layer(x, lengths=lengths)[0], (x,))


@pytest.mark.parametrize("path", ["explicit", "fused"])
def test_dropout_between_layers_only_in_training(path):
    torch.manual_seed(8)
    layer = GRU(3, 16, num_layers=2, dropout=0.5, path=path)
    single = GRU(3, 16, num_layers=1, dropout=0.0, path=path)  # no layer after the last: no dropout
    x = torch.randn(5, 2, 3)
    layer.train()
    a, _ = layer(x)
    b, _ = layer(x)
    assert not torch.equal(a, b)  # dropout active in training
    layer.eval()
    c, _ = layer(x)
    d, _ = layer(x)
    assert torch.equal(c, d)
    single.train()
    assert torch.equal(single(x)[0], single(x)[0])


@pytest.mark.parametrize("path", ["explicit", "fused"])
def test_bad_input_errors_name_the_expected_shape(path):
    layer = LSTM(3, 4, num_layers=2, path=path)
    with pytest.raises(ValueError, match=r"\(L, N, H_in\)"):
        layer(torch.randn(2, 3, 4, 3))
    with pytest.raises(ValueError, match="feature size H_in = 3, got 5"):
        layer(torch.randn(4, 2, 5))
    with pytest.raises(TypeError, match="floating-point"):
        layer(torch.ones(4, 2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"h_0 of shape \(2, 2, 4\)"):
        layer(torch.randn(4, 2, 3), (torch.randn(1, 2, 4), torch.randn(2, 2, 4)))
    with pytest.raises(ValueError, match=r"c_0 of shape \(2, 2, 4\)"):
        layer(torch.randn(4, 2, 3), (torch.randn(2, 2, 4), torch.randn(2, 3, 4)))
    with pytest.raises(TypeError, match=r"tuple \(h_0, c_0\)"):
        layer(torch.randn(4, 2, 3), torch.randn(2, 2, 4))
    with pytest.raises(ValueError, match=r"length must be in \[1, 4\]"):
        layer(torch.randn(4, 2, 3), lengths=torch.tensor([5, 1]))
    with pytest.raises(ValueError, match=r"length must be in \[1, 4\]"):
        layer(torch.randn(4, 2, 3), lengths=torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"lengths of shape \(2,\)"):
        layer(torch.randn(4, 2, 3), lengths=torch.tensor([1, 1, 1]))
    with pytest.raises(TypeError, match="integers"):
        layer(torch.randn(4, 2, 3), lengths=torch.tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match="dtype"):
        layer(torch.randn(4, 2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="path must be"):
        LSTM(3, 4, path="fast")


def _torch_lstm_runs_bf16_on_this_cpu() -> bool:
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            torch.nn.LSTM(3, 4)(torch.randn(5, 2, 3))
    except RuntimeError:
        return False
    return True


@pytest.mark.parametrize("path", ["fused", "explicit"])
def test_state_carried_across_windows_under_autocast(path):
    """Truncated BPTT under bf16 autocast: the state one window returns (bf16) starts the next window, whose
    input is fp32 again; outside autocast a state of another dtype is still an error."""
    if path == "fused" and not _torch_lstm_runs_bf16_on_this_cpu():
        pytest.skip("torch's own LSTM kernel has no bf16 primitive on this CPU (oneDNN; e.g. AVX2-only AMD EPYC)")
    torch.manual_seed(0)
    layer = LSTM(3, 4, num_layers=2, path=path)
    first, second = torch.randn(5, 2, 3), torch.randn(5, 2, 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        _, state = layer(first)
        output, _ = layer(second, state)
    _, reference_state = layer(first)
    reference, _ = layer(second, reference_state)
    assert output.shape == (5, 2, 4)
    torch.testing.assert_close(output.float(), reference, atol=0.05, rtol=0)
    with pytest.raises(TypeError, match="dtype"):
        layer(second, tuple(part.to(torch.bfloat16) for part in state))

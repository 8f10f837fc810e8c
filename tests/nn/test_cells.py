"""Cells against torch.nn.*Cell, gradcheck, and the gate math recomputed from traces."""

from __future__ import annotations

import pytest
import torch

from rnnlab.nn import GRUCell, LayerNormLSTMCell, LSTMCell, RNNCell

CELLS = [
    (RNNCell, torch.nn.RNNCell, {}),
    (RNNCell, torch.nn.RNNCell, {"nonlinearity": "relu"}),
    (LSTMCell, torch.nn.LSTMCell, {}),
    (GRUCell, torch.nn.GRUCell, {}),
    (LSTMCell, torch.nn.LSTMCell, {"bias": False}),
]


@pytest.mark.parametrize("ours_cls,ref_cls,kwargs", CELLS)
def test_cell_matches_torch_and_state_dict_loads_both_ways(ours_cls, ref_cls, kwargs):
    torch.manual_seed(0)
    ours, ref = ours_cls(3, 4, **kwargs), ref_cls(3, 4, **kwargs)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    assert all(p.shape == q.shape for p, q in zip(ours.parameters(), ref.parameters()))
    ours.load_state_dict(ref.state_dict())  # torch -> rnnlab
    x = torch.randn(2, 3)
    state = (torch.randn(2, 4), torch.randn(2, 4)) if ours.state_is_tuple else torch.randn(2, 4)
    got, want = ours(x, state), ref(x, state)
    for a, b in zip(got if ours.state_is_tuple else [got], want if ours.state_is_tuple else [want]):
        torch.testing.assert_close(a, b)
    ref2 = ref_cls(3, 4, **kwargs)
    ref2.load_state_dict(ours.state_dict())  # rnnlab -> torch
    unbatched_ours, unbatched_ref = ours(x[0]), ref2(x[0])  # unbatched input, default state
    for a, b in zip(
        unbatched_ours if ours.state_is_tuple else [unbatched_ours],
        unbatched_ref if ours.state_is_tuple else [unbatched_ref],
    ):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("cls", [RNNCell, LSTMCell, GRUCell])
def test_initialisation_matches_torch_distribution(cls):
    hidden = 64
    cell = cls(8, hidden)
    bound = 1 / hidden**0.5
    for p in cell.parameters():
        assert p.abs().max() <= bound
        assert p.abs().max() > 0.9 * bound  # uniform over the whole interval, not a narrower one


@pytest.mark.parametrize("cls", [RNNCell, LSTMCell, GRUCell, LayerNormLSTMCell])
def test_gradcheck_float64(cls):
    torch.manual_seed(1)
    cell = cls(3, 2).double()
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    h = torch.randn(2, 2, dtype=torch.float64, requires_grad=True)
    if cell.state_is_tuple:
        c = torch.randn(2, 2, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda x, h, c: cell(x, (h, c)), (x, h, c))
    else:
        assert torch.autograd.gradcheck(lambda x, h: cell(x, h), (x, h))


def test_lstm_gates_recompute_the_state():
    torch.manual_seed(2)
    cell = LSTMCell(3, 4)
    x, h, c = torch.randn(5, 3), torch.randn(5, 4), torch.randn(5, 4)
    (h_new, c_new), g = cell.forward_with_gates(x, (h, c))
    torch.testing.assert_close(c_new, g["f"] * c + g["i"] * g["g"])
    torch.testing.assert_close(h_new, g["o"] * torch.tanh(c_new))
    for name in "ifo":
        assert ((g[name] > 0) & (g[name] < 1)).all()  # sigmoid gates
    assert (g["g"].abs() < 1).all()


def test_gru_gates_recompute_the_state():
    torch.manual_seed(3)
    cell = GRUCell(3, 4)
    x, h = torch.randn(5, 3), torch.randn(5, 4)
    h_new, g = cell.forward_with_gates(x, h)
    torch.testing.assert_close(h_new, (1 - g["z"]) * g["n"] + g["z"] * h)
    w_in, b_in = cell.weight_ih[8:], cell.bias_ih[8:]
    w_hn, b_hn = cell.weight_hh[8:], cell.bias_hh[8:]
    torch.testing.assert_close(g["n"], torch.tanh(x @ w_in.T + b_in + g["r"] * (h @ w_hn.T + b_hn)))


def test_cell_bad_input_messages():
    cell = LSTMCell(3, 4)
    with pytest.raises(ValueError, match="feature size 3"):
        cell(torch.randn(2, 5))
    with pytest.raises(ValueError, match=r"shape \(N, 3\)"):
        cell(torch.randn(2, 3, 3))
    with pytest.raises(TypeError, match="floating-point"):
        cell(torch.ones(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"expected c of shape \(2, 4\)"):
        cell(torch.randn(2, 3), (torch.randn(2, 4), torch.randn(2, 5)))
    with pytest.raises(TypeError, match="tuple"):
        cell(torch.randn(2, 3), torch.randn(2, 4))
    with pytest.raises(ValueError, match="nonlinearity"):
        RNNCell(3, 4, nonlinearity="sigmoid")

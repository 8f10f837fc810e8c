"""rnnlab.nn.RNN/LSTM/GRU against torch.nn on both execution paths: outputs, states and gradients."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnlab.nn import GRU, LSTM, RNN

INPUT, HIDDEN, STEPS, BATCH = 3, 4, 5, 3
LENGTHS = torch.tensor([3, 5, 1])  # unsorted on purpose

LAYERS = {"rnn": (RNN, torch.nn.RNN), "lstm": (LSTM, torch.nn.LSTM), "gru": (GRU, torch.nn.GRU)}


def _pair(kind: str, num_layers: int, bidirectional: bool, batch_first: bool, path: str, **kwargs):
    ours_cls, ref_cls = LAYERS[kind]
    args = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first, **kwargs)
    ours = ours_cls(INPUT, HIDDEN, path=path, **args).double()
    ref = ref_cls(INPUT, HIDDEN, **args).double()
    ref.load_state_dict(ours.state_dict())
    return ours, ref


def _initial_state(kind, num_layers, bidirectional, proj_size=0):
    stack = num_layers * (2 if bidirectional else 1)
    h = torch.randn(stack, BATCH, proj_size or HIDDEN, dtype=torch.float64)
    if kind == "lstm":
        return h, torch.randn(stack, BATCH, HIDDEN, dtype=torch.float64)
    return h


def _clone_state(state):
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.clone().requires_grad_() for s in state)
    return state.clone().requires_grad_()


def _flatten(result):
    output, state = result
    if isinstance(output, PackedSequence):
        output = pad_packed_sequence(output)[0]
    states = list(state) if isinstance(state, tuple) else [state]
    return [output, *states]


def _assert_same(kind, ours, ref, make_input, hx):
    x_ours, x_ref = make_input(), make_input()
    hx_ours, hx_ref = _clone_state(hx), _clone_state(hx)
    got, want = _flatten(ours(x_ours, hx_ours)), _flatten(ref(x_ref, hx_ref))
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10)
    # Gradients of an arbitrary scalar of every output w.r.t. the input, states and parameters.
    weights = [torch.randn_like(t) for t in want]
    sum(w.mul(t).sum() for w, t in zip(weights, got)).backward()
    sum(w.mul(t).sum() for w, t in zip(weights, want)).backward()
    for (name, p), q in zip(ours.named_parameters(), ref.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-8, atol=1e-10, msg=f"grad of {name}")
    for leaf_ours, leaf_ref in zip(_leaves(x_ours, hx_ours), _leaves(x_ref, hx_ref)):
        torch.testing.assert_close(leaf_ours.grad, leaf_ref.grad, rtol=1e-8, atol=1e-10)


def _leaves(x, hx):
    leaves = [x._leaf] if hasattr(x, "_leaf") else [x]
    if hx is not None:
        leaves += list(hx) if isinstance(hx, tuple) else [hx]
    return leaves


GRID = list(itertools.product(["rnn", "lstm", "gru"], [1, 2, 3], [False, True], [False, True]))


@pytest.mark.parametrize("path", ["explicit", "fused"])
@pytest.mark.parametrize("kind,num_layers,bidirectional,batch_first", GRID)
@pytest.mark.parametrize("input_kind", ["padded", "packed", "lengths"])
@pytest.mark.parametrize("given_state", [False, True])
def test_matches_torch(kind, num_layers, bidirectional, batch_first, input_kind, given_state, path):
    torch.manual_seed(hash((kind, num_layers, bidirectional, batch_first)) % 1000)
    ours, ref = _pair(kind, num_layers, bidirectional, batch_first, path)
    base = torch.randn(STEPS, BATCH, INPUT, dtype=torch.float64)
    hx = _initial_state(kind, num_layers, bidirectional) if given_state else None

    if input_kind == "padded":
        def make():  # a transposed view is not a leaf: keep the leaf for the gradient check
            leaf = base.clone().requires_grad_()
            x = leaf.transpose(0, 1) if batch_first else leaf
            x._leaf = leaf
            return x
        _assert_same(kind, ours, ref, make, hx)
    elif input_kind == "packed":
        def make():
            leaf = base.clone().requires_grad_()
            x = leaf.transpose(0, 1) if batch_first else leaf
            packed = pack_padded_sequence(x, LENGTHS, batch_first=batch_first, enforce_sorted=False)
            packed._leaf = leaf
            return packed
        _assert_same(kind, ours, ref, make, hx)
    else:  # padded input + lengths= (our extension) must equal torch on the packed equivalent
        leaf_ours, leaf_ref = base.clone().requires_grad_(), base.clone().requires_grad_()
        x_ours = leaf_ours.transpose(0, 1) if batch_first else leaf_ours
        x_ref = leaf_ref.transpose(0, 1) if batch_first else leaf_ref
        out_ours, state_ours = ours(x_ours, _clone_state(hx), lengths=LENGTHS)
        packed = pack_padded_sequence(x_ref, LENGTHS, batch_first=batch_first, enforce_sorted=False)
        out_ref, state_ref = ref(packed, _clone_state(hx))
        out_ref = pad_packed_sequence(out_ref, batch_first=batch_first, total_length=STEPS)[0]
        torch.testing.assert_close(out_ours, out_ref)
        for a, b in zip(_flatten((out_ours, state_ours))[1:], _flatten((out_ref, state_ref))[1:]):
            torch.testing.assert_close(a, b)
        (out_ours.sum() + sum(s.sum() for s in _flatten((out_ours, state_ours))[1:])).backward()
        (out_ref.sum() + sum(s.sum() for s in _flatten((out_ref, state_ref))[1:])).backward()
        torch.testing.assert_close(leaf_ours.grad, leaf_ref.grad)


@pytest.mark.parametrize("path", ["explicit", "fused"])
@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (2, True), (3, False)])
@pytest.mark.parametrize("packed", [False, True])
def test_lstm_projection_matches_torch(path, num_layers, bidirectional, packed):
    torch.manual_seed(3)
    ours, ref = _pair("lstm", num_layers, bidirectional, False, path, proj_size=2)
    base = torch.randn(STEPS, BATCH, INPUT, dtype=torch.float64)
    hx = _initial_state("lstm", num_layers, bidirectional, proj_size=2)

    def make():
        leaf = base.clone().requires_grad_()
        x = pack_padded_sequence(leaf, LENGTHS, enforce_sorted=False) if packed else leaf
        x._leaf = leaf
        return x

    _assert_same("lstm", ours, ref, make, hx)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("path", ["explicit", "fused"])
def test_unbatched_input(kind, path):
    torch.manual_seed(4)
    ours, ref = _pair(kind, 2, True, False, path)
    x = torch.randn(STEPS, INPUT, dtype=torch.float64)
    for a, b in zip(_flatten(ours(x)), _flatten(ref(x))):
        torch.testing.assert_close(a, b)
    stack = 4
    hx = torch.randn(stack, HIDDEN, dtype=torch.float64)
    hx = (hx, torch.randn(stack, HIDDEN, dtype=torch.float64)) if kind == "lstm" else hx
    for a, b in zip(_flatten(ours(x, hx)), _flatten(ref(x, hx))):
        torch.testing.assert_close(a, b)


def test_relu_rnn_matches_torch():
    torch.manual_seed(5)
    ours = RNN(INPUT, HIDDEN, num_layers=2, nonlinearity="relu", path="explicit").double()
    ref = torch.nn.RNN(INPUT, HIDDEN, num_layers=2, nonlinearity="relu").double()
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(STEPS, BATCH, INPUT, dtype=torch.float64)
    for a, b in zip(_flatten(ours(x)), _flatten(ref(x))):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_bias_false(kind):
    torch.manual_seed(6)
    ours, ref = _pair(kind, 2, True, False, "explicit", bias=False)
    x = torch.randn(STEPS, BATCH, INPUT, dtype=torch.float64)
    for a, b in zip(_flatten(ours(x)), _flatten(ref(x))):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("kind,num_layers,bidirectional,batch_first", GRID)
@pytest.mark.parametrize("given_state", [False, True])
def test_single_step_matches_torch(kind, num_layers, bidirectional, batch_first, given_state, monkeypatch):
    """A length-1 input (a decoder's step) runs on torch's cell functions: same outputs, states, gradients."""
    import rnnlab.nn.recurrent as recurrent

    taken = []
    applies = recurrent._single_step_applies

    def recorded(layer, batch):
        taken.append(applies(layer, batch))
        return taken[-1]

    monkeypatch.setattr(recurrent, "_single_step_applies", recorded)
    torch.manual_seed(4)
    ours, ref = _pair(kind, num_layers, bidirectional, batch_first, "fused")
    shape = (BATCH, 1, INPUT) if batch_first else (1, BATCH, INPUT)
    x = torch.randn(*shape, dtype=torch.float64)
    hx = _initial_state(kind, num_layers, bidirectional) if given_state else None
    _assert_same(kind, ours, ref, lambda: x.clone().requires_grad_(), hx)
    assert taken == [True]


def test_single_step_path_applies_only_to_one_step_without_projections():
    import rnnlab.nn.recurrent as recurrent

    layer = LSTM(INPUT, HIDDEN)
    one, two = torch.randn(1, BATCH, INPUT), torch.randn(2, BATCH, INPUT)
    assert recurrent._single_step_applies(layer, recurrent._prepare_input(layer, one, None))
    assert not recurrent._single_step_applies(layer, recurrent._prepare_input(layer, two, None))
    unbatched = torch.randn(1, INPUT)  # (L = 1, H_in)
    assert not recurrent._single_step_applies(layer, recurrent._prepare_input(layer, unbatched, None))
    projected = LSTM(INPUT, HIDDEN, proj_size=2)
    assert not recurrent._single_step_applies(projected, recurrent._prepare_input(projected, one, None))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not recurrent._single_step_applies(layer, recurrent._prepare_input(layer, one, None))


def test_single_step_dropout_between_layers_only_in_training():
    torch.manual_seed(8)
    layer = LSTM(INPUT, 16, num_layers=2, dropout=0.5)
    x = torch.randn(1, 2, INPUT)
    layer.train()
    assert not torch.equal(layer(x)[0], layer(x)[0])
    layer.eval()
    assert torch.equal(layer(x)[0], layer(x)[0])

"""Gradient-flow curves against hand-computed cases: a linear RNN's gradient decays like ‖W^k‖."""

import pytest
import torch
from torch import nn

from rnnlab.inspect.cells import reinitialised
from rnnlab.inspect.gradflow import (
    cell_from_layer,
    decay_per_step,
    hidden_gradient_norms,
    lm_input_gradient_norms,
)
from rnnlab.inspect.unroll import spectral_radius, step_jacobians
from rnnlab.nn import GRU, LSTM, RNN


class LinearCell(nn.Module):
    """h_t = W h_{t-1} + U x_t: the case where BPTT's product is (W^T)^(T-t)."""

    def __init__(self, weight: torch.Tensor, input_size: int = 2) -> None:
        super().__init__()
        self.hidden_size = weight.shape[0]
        self.weight = weight
        self.input = torch.randn(self.hidden_size, input_size, dtype=weight.dtype)

    def forward(self, x, h):
        return h @ self.weight.t() + x @ self.input.t()


def test_one_unit_linear_rnn_gradient_is_w_to_the_power_T_minus_t():
    w, steps = 0.8, 12
    cell = LinearCell(torch.tensor([[w]], dtype=torch.float64))
    inputs = torch.randn(steps, 1, 2, dtype=torch.float64)
    norms = hidden_gradient_norms(cell, inputs, lambda h: h.sum())  # ∂L_T/∂h_T = 1
    expected = torch.tensor([w ** (steps - t) for t in range(1, steps + 1)], dtype=torch.float64)
    torch.testing.assert_close(norms, expected)
    assert decay_per_step(norms) == pytest.approx(w)


@pytest.mark.parametrize("scale", [0.7, 1.3])
def test_linear_rnn_curve_follows_the_spectral_radius(scale):
    torch.manual_seed(0)
    orthogonal, _ = torch.linalg.qr(torch.randn(5, 5, dtype=torch.float64))
    weight = scale * orthogonal  # ‖(W^T)^k g‖ = scale^k ‖g‖ exactly
    cell = LinearCell(weight)
    norms = hidden_gradient_norms(
        cell, torch.randn(10, 3, 2, dtype=torch.float64), lambda h: (h**2).sum() / 2
    )
    ratios = norms[:-1] / norms[1:]
    torch.testing.assert_close(ratios, torch.full_like(ratios, scale))
    assert spectral_radius(weight) == pytest.approx(scale)


def test_tanh_rnn_curve_equals_product_of_step_jacobians():
    torch.manual_seed(3)
    layer = RNN(2, 4)
    cell = cell_from_layer(layer, "rnn").double()
    inputs = torch.randn(6, 1, 2, dtype=torch.float64)
    norms = hidden_gradient_norms(cell, inputs, lambda h: h.sum())
    jac_state, _, _ = step_jacobians(cell, inputs)
    grad = torch.ones(4, dtype=torch.float64)
    expected = [grad.norm()]
    for t in range(5, 0, -1):
        grad = grad @ jac_state[t]
        expected.insert(0, grad.norm())
    torch.testing.assert_close(norms, torch.stack(expected))


@pytest.mark.parametrize("layer_class, name", [(RNN, "rnn"), (LSTM, "lstm"), (GRU, "gru")])
def test_cell_from_layer_reproduces_the_layer(layer_class, name):
    torch.manual_seed(0)
    layer = layer_class(3, 5)
    cell = cell_from_layer(layer, name)
    x = torch.randn(4, 2, 3)
    output, _ = layer(x)
    state = None
    for t in range(4):
        state = cell(x[t], state)
        h = state[0] if isinstance(state, tuple) else state
        torch.testing.assert_close(h, output[t])


class TinyLM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(7, 4)
        self.rnn = LSTM(4, 6)
        self.output = nn.Linear(6, 7)

    def forward(self, ids, state=None):
        hidden, state = self.rnn(self.embedding(ids), state)
        return self.output(hidden), state


def test_lm_input_gradients_match_direct_autograd():
    torch.manual_seed(0)
    model, ids = TinyLM().eval(), torch.randint(0, 7, (9, 1))
    norms = lm_input_gradient_norms(model, ids)
    embedded = model.embedding(ids[:-1]).detach().requires_grad_(True)
    hidden, _ = model.rnn(embedded)
    loss = nn.functional.cross_entropy(model.output(hidden[-1]), ids[-1])
    (grad,) = torch.autograd.grad(loss, embedded)
    torch.testing.assert_close(norms, grad[:, 0].norm(dim=-1))
    fresh = reinitialised(model, seed=1)
    assert not torch.equal(fresh.rnn.weight_hh_l0, model.rnn.weight_hh_l0)


def test_checkpoint_report_and_plot(tmp_path):
    from rnnlab.inspect.gradflow import GradflowReport, add_exploding_runs, lm_gradflow_curves, plot_gradflow

    torch.manual_seed(0)
    report = GradflowReport("lstm", 8, checkpoint="tiny")
    report.curves = lm_gradflow_curves(TinyLM(), torch.randint(0, 7, (8, 1)))
    add_exploding_runs(report, length=6, steps=3)
    text = report.summary()
    assert "‖∂L_T/∂e_1‖" in text and "trained checkpoint" in text and "clip=1.0" in text
    plot_gradflow(report, tmp_path / "g.png")
    assert (tmp_path / "g.png").stat().st_size > 1000


def test_checkpoint_report_reads_the_text_with_the_model_tokenizer(tmp_path):
    from types import SimpleNamespace

    from rnnlab.errors import DataError
    from rnnlab.inspect.gradflow import checkpoint_report

    torch.manual_seed(0)
    lm = SimpleNamespace(
        model=TinyLM(),
        tokenizer=SimpleNamespace(tokenize=list),
        vocab=SimpleNamespace(encode=lambda tokens: [ord(c) % 7 for c in tokens]),
        generate=lambda max_tokens, seed: ["abcdefghij"[:max_tokens]],
    )
    report = checkpoint_report(lm, "tiny", None, length=6, explode_steps=2)
    assert report.length == 6 and len(report.curves) == 2 and len(report.curves[1].norms) == 5
    assert [len(run.grad_norms) for run in report.exploding] == [2, 2]
    with pytest.raises(DataError, match="need at least 2"):
        checkpoint_report(lm, "tiny", "a", length=6, explode_steps=1)

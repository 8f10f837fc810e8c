"""∂L_k/∂x_t is exactly zero for k < t, non-zero for k ≥ t, and equals the BPTT chain-rule product."""

import pytest
import torch

from rnnlab.inspect.bptt import (
    SmallRNN,
    bptt_gradients,
    chain_rule_gradient,
    loss_is_sum_check,
    plot_bptt,
    weight_sharing_check,
)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_gradient_pattern_is_causal(cell):
    grads = bptt_gradients(SmallRNN.random(cell, steps=5, seed=1))
    for k in range(5):
        for t in range(5):
            if k < t:
                assert grads[k, t] == 0.0
            else:
                assert grads[k, t] > 0.0


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_chain_rule_product_equals_autograd(cell):
    model = SmallRNN.random(cell, steps=5, seed=2)
    inputs = model.inputs.clone().requires_grad_(True)
    losses = model.step_losses(inputs)
    for k, t in [(4, 1), (3, 3), (2, 0), (1, 3)]:
        (grad,) = torch.autograd.grad(losses[k], inputs, retain_graph=True)
        torch.testing.assert_close(chain_rule_gradient(model, k, t), grad[t, 0], rtol=1e-4, atol=1e-7)


def test_plot_writes_png(tmp_path):
    out = tmp_path / "bptt.png"
    grads = plot_bptt(SmallRNN.random("rnn", steps=4), t=2, path=out)
    assert out.stat().st_size > 1000 and grads.shape == (4, 4)


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_loss_is_sum_and_weights_are_shared(cell):
    model = SmallRNN.random(cell, steps=5, seed=3)
    total, parts = loss_is_sum_check(model, 1)
    torch.testing.assert_close(total, parts)
    per_step, summed, shared = weight_sharing_check(model)
    torch.testing.assert_close(summed, shared)
    assert per_step[0] == 0.0 and torch.all(per_step[1:] > 0)  # h_0 = 0: step 1 does not use W_hh


def test_saved_memory_grows_linearly_with_length():
    from rnnlab.inspect.cost import measure_costs

    rows = measure_costs("gru", lengths=(10, 20, 40), batch_size=2, hidden_size=8, repeats=1)
    memory = [row.saved_megabytes for row in rows]
    assert memory[0] < memory[1] < memory[2]
    assert (memory[2] - memory[1]) == pytest.approx(2 * (memory[1] - memory[0]), rel=0.05)


def test_bptt_report_is_what_the_command_prints(tmp_path):
    from rnnlab.errors import ConfigError
    from rnnlab.inspect.bptt import bptt_report

    report = bptt_report("lstm", steps=4, t=2, path=tmp_path / "b.png", seed=1)
    assert report.autograd[0] == 0.0 and all(v > 0 for v in report.autograd[1:])
    assert report.chain_rule == pytest.approx(report.autograd, rel=1e-4, abs=1e-7)
    assert report.sum_difference < 1e-5 and report.sharing_difference < 1e-5 and len(report.step_shares) == 4
    assert report.path.stat().st_size > 1000
    with pytest.raises(ConfigError, match="t must be between 1 and steps"):
        bptt_report("rnn", steps=3, t=4, path=tmp_path / "c.png")

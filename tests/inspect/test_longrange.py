"""The adding and copy generators have their documented statistics; the trainer runs."""

import math

import pytest
import torch

from rnnlab.errors import ConfigError
from rnnlab.inspect.longrange import (
    ADDING_BASELINE_MSE,
    COPY_BLANK,
    COPY_DELIMITER,
    RunConfig,
    adding_batch,
    copy_baseline_loss,
    copy_batch,
    is_solved,
    train_run,
)


def test_adding_markers_one_per_half_and_target_is_their_sum():
    inputs, targets = adding_batch(500, 11, torch.Generator().manual_seed(0))
    assert inputs.shape == (500, 11, 2) and targets.shape == (500, 1)
    values, markers = inputs[..., 0], inputs[..., 1]
    assert torch.all(markers.sum(dim=1) == 2)
    assert torch.all(markers[:, :5].sum(dim=1) == 1) and torch.all(markers[:, 5:].sum(dim=1) == 1)
    assert torch.allclose(targets[:, 0], (values * markers).sum(dim=1))
    assert values.min() >= 0 and values.max() <= 1


def test_adding_constant_prediction_has_the_baseline_mse():
    _, targets = adding_batch(40_000, 20, torch.Generator().manual_seed(1))
    assert abs(float(targets.mean()) - 1.0) < 0.01
    mse_of_predicting_one = float(((targets - 1.0) ** 2).mean())
    assert ADDING_BASELINE_MSE == pytest.approx(1 / 6)
    assert mse_of_predicting_one == pytest.approx(ADDING_BASELINE_MSE, abs=0.005)


def test_copy_layout():
    delay, length = 7, 4
    inputs, targets = copy_batch(300, delay, length, torch.Generator().manual_seed(0))
    assert inputs.shape == targets.shape == (300, delay + 2 * length)
    data = inputs[:, :length]
    assert torch.all((data >= 1) & (data <= 8))
    assert torch.all(inputs[:, length + delay - 1] == COPY_DELIMITER)
    rest = torch.cat([inputs[:, length : length + delay - 1], inputs[:, length + delay :]], dim=1)
    assert torch.all(rest == COPY_BLANK)
    assert torch.all(targets[:, :-length] == COPY_BLANK) and torch.equal(targets[:, -length:], data)
    assert set(data.unique().tolist()) == set(range(1, 9))
    assert copy_baseline_loss(delay, length) == pytest.approx(length * math.log(8) / (delay + 2 * length))


def test_generators_reject_bad_lengths():
    with pytest.raises(ConfigError):
        adding_batch(2, 1)
    with pytest.raises(ConfigError):
        copy_batch(2, 0)


def test_solved_thresholds():
    assert is_solved("adding", 0.009) and not is_solved("adding", 0.011)
    assert is_solved("copy", 0.99) and not is_solved("copy", 0.98)


@pytest.mark.parametrize("task", ["adding", "copy"])
def test_train_run_learns_something_and_reports(task):
    config = RunConfig(
        task=task,
        cell="gru",
        length=4,
        hidden_size=8,
        steps=60,
        batch_size=16,
        eval_every=30,
        eval_size=64,
        copy_length=2,
    )
    result = train_run(config, stop_when_solved=False)
    assert result.steps_taken == 60 and not result.diverged and math.isfinite(result.metric)
    if task == "adding":
        assert result.metric < 0.5  # far below a random init's ~1, on the way to the 0.167 baseline
    else:
        assert 0.0 <= result.metric <= 1.0


def test_a_nan_loss_ends_the_run_as_diverged():
    from rnnlab.inspect.longrange import SequenceModel

    config = RunConfig(task="adding", cell="rnn", length=4, hidden_size=4, steps=20, eval_every=5, eval_size=8)
    model = SequenceModel("adding", "rnn", 4)
    with torch.no_grad():
        model.head.bias.fill_(float("nan"))
    result = train_run(config, model=model)
    assert result.diverged and not result.solved and math.isnan(result.metric)
    assert result.steps_taken == 1 and result.max_grad_norm == 0.0


def test_stop_when_solved_ends_at_the_solving_evaluation(monkeypatch):
    import rnnlab.inspect.longrange as longrange

    monkeypatch.setattr(longrange, "is_solved", lambda task, metric: True)
    config = RunConfig(task="adding", cell="gru", length=4, hidden_size=4, steps=30, eval_every=10, eval_size=8)
    assert train_run(config).steps_taken == 10
    assert train_run(config, stop_when_solved=False).steps_taken == 30

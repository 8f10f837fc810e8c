"""Trainer behaviour on a tiny task: outputs, best/last, early stopping, schedules, errors."""

from __future__ import annotations

import json
import math

import pytest
import torch
from trainer_tiny_task import TinyLM, TinyTask, make_config

from rnnlab.errors import CheckpointError, ConfigError
from rnnlab.train import LRSchedule, Trainer, TrainTask, build_optimizer, load_checkpoint, read_metrics


class ScriptedEval(TinyTask):
    """evaluate() returns a scripted sequence of losses."""

    def __init__(self, model, losses):
        super().__init__(model)
        self.losses = list(losses)

    def evaluate(self):
        return {"loss": self.losses.pop(0)}


def fit(tmp_path, task=None, resume=False, **overrides):
    torch.manual_seed(0)
    model = task.model if task is not None else TinyLM()
    task = task if task is not None else TinyTask(model)
    trainer = Trainer(task, model, make_config(**overrides), tmp_path / "run")
    return trainer, trainer.fit(resume=resume)


def test_outputs_best_and_last(tmp_path):
    trainer, summary = fit(tmp_path, max_epochs=2, eval_every=0, save_every=0, log_every=2, plot=True)
    run = tmp_path / "run"
    assert summary["steps"] == 8 and summary["epochs"] == 2
    assert (run / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    records = read_metrics(run / "metrics.jsonl")
    assert [(r["event"], r["step"]) for r in records] == [
        ("train", 2), ("train", 4), ("eval", 4), ("train", 6), ("train", 8), ("eval", 8),
    ]
    train_record = records[0]
    assert train_record["ppl"] == pytest.approx(math.exp(train_record["loss"]))
    for key in ("epoch", "lr", "tokens_per_s", "wall_time", "grad_norm", "noise"):
        assert key in train_record
    assert train_record["tokens"] == 2 * 32

    last, best = load_checkpoint(run / "last"), load_checkpoint(run / "best")
    assert last.config == best.config == {"task": "tiny", "vocab_size": 11}
    assert best.read_json("vocab.json") == {"a": 0} and best.trainer_state is None
    assert last.trainer_state["step"] == 8 and last.trainer_state["epoch"] == 2
    evals = [r for r in records if r["event"] == "eval"]
    best_eval = min(evals, key=lambda r: r["loss"])
    assert summary["best_value"] == best_eval["loss"] and summary["best_step"] == best_eval["step"]
    for name, tensor in trainer.model.state_dict().items():  # last/ holds the final weights
        assert torch.equal(tensor, last.state_dict[name])


def test_best_checkpoint_holds_the_best_weights(tmp_path):
    model = TinyLM()
    task = ScriptedEval(model, [3.0, 1.0, 2.0, 2.5])
    snapshots = {}
    original = task.evaluate

    def evaluate():
        snapshots[len(snapshots)] = {k: v.clone() for k, v in model.state_dict().items()}
        return original()

    task.evaluate = evaluate
    _, summary = fit(tmp_path, task=task, max_epochs=None, max_steps=16, eval_every=4)
    assert summary["best_value"] == 1.0 and summary["best_step"] == 8
    best = load_checkpoint(tmp_path / "run" / "best")
    for name, tensor in snapshots[1].items():
        assert torch.equal(best.state_dict[name], tensor)


def test_early_stopping(tmp_path):
    task = ScriptedEval(TinyLM(), [2.0, 1.5, 1.6, 1.7, 1.4, 1.0])
    _, summary = fit(tmp_path, task=task, max_epochs=None, max_steps=100, eval_every=2, early_stopping_patience=2)
    assert summary["early_stopped"] and summary["steps"] == 8
    assert summary["best_value"] == 1.5 and summary["best_step"] == 4
    assert [r["loss"] for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if r["event"] == "eval"] == [
        2.0, 1.5, 1.6, 1.7,
    ]


def test_max_steps_stops_mid_epoch_and_mode_max(tmp_path):
    task = ScriptedEval(TinyLM(), [0.1, 0.3, 0.2])
    _, summary = fit(tmp_path, task=task, max_epochs=None, max_steps=6, eval_every=2, mode="max")
    assert summary["steps"] == 6 and summary["epochs"] == 1
    assert summary["best_value"] == 0.3 and summary["best_step"] == 4


def test_plateau_schedule_matches_torch(tmp_path):
    metrics = [3.0, 2.0, 2.5, 2.5, 1.0, 1.5, 1.5, 1.5]
    for patience in (0, 1):
        ours_params = [torch.nn.Parameter(torch.zeros(1))]
        ours = LRSchedule(build_optimizer(ours_params, "sgd", 0.8), "plateau", factor=0.5, patience=patience, min_lr=0.06)
        ref_opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.8)
        ref = torch.optim.lr_scheduler.ReduceLROnPlateau(ref_opt, factor=0.5, patience=patience, threshold=0, min_lr=0.06)
        for step, value in enumerate(metrics):
            ours.step(step)
            ours.on_eval(value)
            ref.step(value)
            ours.step(step + 1)
            assert ours.lr == pytest.approx(ref_opt.param_groups[0]["lr"]), (patience, step)


def test_cosine_with_warmup():
    params = [torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))]
    optimizer = build_optimizer([{"params": params[:1]}, {"params": params[1:], "lr": 0.5}], "adam", 1.0)
    schedule = LRSchedule(optimizer, "cosine", warmup_steps=4, total_steps=14, min_lr=0.1)
    lrs = []
    for step in range(16):
        schedule.step(step)
        lrs.append([group["lr"] for group in optimizer.param_groups])
    assert [lr[0] for lr in lrs[:4]] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert lrs[9][0] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 5 / 10)))
    assert lrs[14][0] == pytest.approx(0.1) and lrs[15][0] == pytest.approx(0.1)
    assert lrs[4][1] == pytest.approx(0.5) and lrs[14][1] == pytest.approx(0.1)  # per-group base lr


def test_cosine_run_ends_at_min_lr(tmp_path):
    _, summary = fit(tmp_path, schedule="cosine", warmup_steps=2, min_lr=1e-4, max_epochs=2, eval_every=0)
    lrs = [r["lr"] for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if r["event"] == "train"]
    assert lrs[0] == pytest.approx(0.005) and lrs[1] == pytest.approx(0.01)
    assert lrs[-1] == pytest.approx(1e-4 + (0.01 - 1e-4) * 0.5 * (1 + math.cos(math.pi * 5 / 6)))
    assert all(a >= b for a, b in zip(lrs[1:], lrs[2:]))


def test_gradient_clipping_bounds_the_update(tmp_path):
    model = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.constant_(model.weight, 0.0)

    class Linear(TrainTask):
        def train_batches(self, epoch):
            return [torch.tensor([[100.0]])]

        def train_step(self, net, x):
            return (net(x) - 1000.0).pow(2).mean(), 1  # a (loss, num_tokens) tuple is accepted

        def evaluate(self):
            return {"loss": 0.0}

        def checkpoint_config(self):
            return {"task": "linear"}

    config = make_config(optimizer="sgd", lr=0.1, clip_grad_norm=2.0, max_epochs=1, eval_every=0)
    Trainer(Linear(), model, config, tmp_path / "run").fit()
    assert model.weight.item() == pytest.approx(0.2)  # gradient norm 2e7 clipped to 2, times lr 0.1


def test_model_must_be_a_module_and_resume_without_a_checkpoint_starts_fresh(tmp_path):
    model = TinyLM()
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        Trainer(model, TinyTask(model), make_config(max_epochs=1), tmp_path / "run")  # (task, model, ...) only
    trainer = Trainer(TinyTask(model), model, make_config(max_epochs=1), tmp_path / "run")
    assert trainer.fit(resume=True)["steps"] == 4  # resume=True without last/ starts fresh


def test_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"trainer.metric='accuracy' is not among .*\['loss', 'ppl'\]"):
        fit(tmp_path, metric="accuracy", eval_every=1)
    fit(tmp_path / "a", max_epochs=1)
    with pytest.raises(CheckpointError, match="has no trainer_state"):
        fit(tmp_path / "b", resume=tmp_path / "a" / "run" / "best")
    with pytest.raises(CheckpointError, match="no checkpoint to resume from"):
        fit(tmp_path / "c", resume=tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="set max_steps, max_epochs or max_minutes"):
        make_config(max_epochs=None, max_steps=None)

    class Diverging(TinyTask):
        def train_step(self, model, batch):
            output = super().train_step(model, batch)
            output.loss = output.loss * float("nan")
            return output

    model = TinyLM()
    with pytest.raises(FloatingPointError, match="loss is nan at step 1"):
        Trainer(Diverging(model), model, make_config(), tmp_path / "d").fit()


def test_resume_after_finished_run_does_nothing_more(tmp_path):
    fit(tmp_path, max_epochs=2)
    before = (tmp_path / "run" / "metrics.jsonl").read_text()
    _, summary = fit(tmp_path, max_epochs=2, resume=True)
    assert summary["steps"] == 8
    assert [json.loads(line)["step"] for line in before.splitlines()] == [
        r["step"] for r in read_metrics(tmp_path / "run" / "metrics.jsonl")
    ]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU fallbacks")
def test_cpu_precision_and_device_fallbacks(tmp_path):
    model = TinyLM()
    with pytest.warns(UserWarning, match="bf16 needs CUDA"):
        trainer = Trainer(TinyTask(model), model, make_config(precision="bf16"), tmp_path)
    assert trainer.precision == "fp32" and trainer.device == torch.device("cpu")
    assert Trainer(TinyTask(model), model, make_config(device="auto"), tmp_path).device.type == "cpu"
    with pytest.raises(ConfigError, match="no CUDA GPU is available"):
        Trainer(TinyTask(model), model, make_config(device="cuda"), tmp_path)


def test_module_docstring_example_runs(tmp_path):
    import textwrap

    import rnnlab.train.trainer as trainer_module

    doc = trainer_module.__doc__
    code = textwrap.dedent(doc[doc.index("Example") :].split("::", 1)[1])
    code = code.replace("TrainerConfig(max_epochs=3, eval_every=100)", "TrainerConfig(max_epochs=1, progress=False)")
    code = code.replace('"runs/char"', repr(str(tmp_path / "char")))
    namespace: dict = {}
    exec(compile(code, "trainer docstring example", "exec"), namespace)
    assert namespace["summary"]["steps"] == 17 and set(namespace["summary"]["last_eval"]) == {"loss", "ppl"}


class OtherVocabulary(TinyTask):
    def checkpoint_files(self):
        return {"vocab.json": '{"b": 0}'}


class OtherTask(TinyTask):
    def checkpoint_config(self):
        return {"task": "other", "vocab_size": 11}


def test_init_from_starts_a_fresh_run_from_the_weights_of_another(tmp_path):
    _, first = fit(tmp_path, max_epochs=1)
    saved = load_checkpoint(tmp_path / "run" / "last").state_dict
    torch.manual_seed(1)  # other initial weights, replaced by the saved ones
    model = TinyLM()
    trainer = Trainer(TinyTask(model), model, make_config(max_steps=1, optimizer="sgd", lr=1e-30, schedule="none",
                                                          clip_grad_norm=None, init_from=str(tmp_path / "run" / "last")),
                      tmp_path / "second")  # fmt: skip
    summary = trainer.fit()
    assert first["steps"] == 4 and summary["steps"] == 1  # a fresh step count, not a resume
    for name, tensor in model.state_dict().items():  # lr 1e-30: the one step leaves the loaded weights
        assert torch.allclose(tensor, saved[name])
    assert load_checkpoint(tmp_path / "second" / "last").trainer_state["step"] == 1
    for task, message in ((OtherVocabulary, "vocab.json differs from this run's"), (OtherTask, "init_from: .*a 'tiny' model, not a 'other' model")):
        model = TinyLM()
        with pytest.raises(CheckpointError, match=message):
            Trainer(task(model), model, make_config(init_from=str(tmp_path / "run")), tmp_path / "third").fit()
    with pytest.raises(CheckpointError, match="expected a model directory"):
        Trainer(TinyTask(TinyLM()), TinyLM(), make_config(init_from=str(tmp_path / "nowhere")), None).fit()
    with pytest.raises(ConfigError, match="init_from"):
        make_config(init_from=" ")


class TinyLMWithHead(TinyLM):
    def __init__(self):
        super().__init__()
        self.head = torch.nn.Linear(2, 2)


def test_init_from_keeps_the_initial_weights_of_a_part_the_source_lacks(tmp_path):
    fit(tmp_path, max_epochs=1)
    saved = load_checkpoint(tmp_path / "run" / "last").state_dict
    model = TinyLMWithHead()
    head = model.head.weight.detach().clone()
    config = make_config(max_steps=1, optimizer="sgd", lr=1e-30, schedule="none", clip_grad_norm=None,
                         init_from=str(tmp_path / "run" / "last"))  # fmt: skip
    Trainer(TinyTask(model), model, config, tmp_path / "second").fit()
    assert torch.equal(model.head.weight, head)
    for name, tensor in saved.items():
        assert torch.allclose(model.state_dict()[name], tensor)
    # the other way round (the source has a part this model lacks) is refused: its weights would be dropped
    fit(tmp_path / "headed", task=TinyTask(TinyLMWithHead()), max_epochs=1)
    with pytest.raises(CheckpointError, match=r"unexpected keys \['head.weight', 'head.bias'\]"):
        Trainer(TinyTask(TinyLM()), TinyLM(), make_config(init_from=str(tmp_path / "headed" / "run")), None).fit()

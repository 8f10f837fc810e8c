"""`rnnlab demo`: a short run end to end, its bad-input errors, Ctrl-C, and what its report relies on."""

from __future__ import annotations

import signal

import pytest
import torch

from rnnlab.cli import main
from rnnlab.data.poetry import FORMS, poem_form
from rnnlab.data.tokenizers import CharTokenizer
from rnnlab.data.vocab import Vocabulary
from rnnlab.demo import demo_config, run_demo
from rnnlab.lm.neural import NeuralLanguageModel
from rnnlab.lm.scoring import shuffled_copies, shuffled_preference
from rnnlab.nn.language_model import RNNLanguageModel, RNNLMConfig
from rnnlab.tasks.language_model import load_language_model
from rnnlab.train.metrics import plot_loss_curve


def test_demo_with_a_few_steps_writes_the_side_by_side_report(tmp_path, capsys):
    out = tmp_path / "demo"
    threads = torch.get_num_threads()
    code = main(["demo", "--steps", "3", "--output-dir", str(out), "--threads", "1"])
    assert code == 0
    assert torch.get_num_threads() == threads  # the demo's threads are restored
    printed = capsys.readouterr().out
    report = (out / "report.md").read_text(encoding="utf-8")
    assert report in printed
    for expected in ("character 3-gram (MKN)", "test perplexity", "test bits per character", "regular shape",
                     "samples copying a training couplet", "那只猫在作报告!", "! 在报那猫告做只", "acrostic 春夏秋冬",
                     "+ line positions", "told which line of the poem it is in"):  # fmt: skip
        assert expected in report
    assert (out / "loss_curve.png").stat().st_size > 0
    assert load_language_model(out).score(["床前明月光"])[0].total_logprob < 0
    assert (out / "ngram" / "config.json").is_file()
    # an output directory that holds a run is refused; --overwrite moves it aside (nothing deleted)
    assert main(["demo", "--steps", "1", "--output-dir", str(out)]) == 2
    assert "already holds a trained run" in capsys.readouterr().err
    assert (out / "run.yaml").is_file()  # the run-directory guard of `rnnlab train` wrote it
    assert main(["demo", "--steps", "1", "--output-dir", str(out), "--threads", "1", "--overwrite"]) == 0
    moved = list(out.parent.glob(f"{out.name}.old-*"))
    assert len(moved) == 1 and (moved[0] / "report.md").read_text(encoding="utf-8") == report


def test_demo_steps_and_minutes_config():
    timed = demo_config("x", minutes=4)
    assert timed.trainer.max_minutes == 4 and timed.trainer.max_steps is None and timed.trainer.max_epochs is None
    assert timed.trainer.schedule == "cosine" and timed.trainer.eval_every > 0
    stepped = demo_config("x", minutes=4, steps=6)
    assert stepped.trainer.max_steps == 6 and stepped.trainer.max_minutes is None and stepped.trainer.eval_every == 3
    assert demo_config("x", recipe={"model.hidden_size": 64, "model.embedding_size": 64}).model.hidden_size == 64


def test_default_threads_take_only_idle_cores(monkeypatch):
    from rnnlab import demo

    idle = demo.idle_cores(0.01)
    assert idle is None or 0 <= idle <= (demo.os.cpu_count() or 1) + 1e-6
    monkeypatch.setattr(demo.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(demo, "idle_cores", lambda: 1.9)
    assert demo.default_threads() == 2
    monkeypatch.setattr(demo, "idle_cores", lambda: 0.3)  # other work holds both cores
    assert demo.default_threads() == 1
    monkeypatch.setattr(demo, "idle_cores", lambda: None)  # no /proc/stat
    assert demo.default_threads() == 2


@pytest.mark.parametrize("minutes", ["0", "-1", "inf", "nan"])
def test_demo_refuses_a_budget_that_is_not_positive_and_finite(minutes, tmp_path, capsys):
    assert main(["demo", "--minutes", minutes, "--output-dir", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err.strip()
    assert "--minutes must be a finite number > 0" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "d").exists()


def test_demo_refuses_an_unwritable_output_dir(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["demo", "--steps", "1", "--output-dir", str(blocker / "sub")]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert main(["demo", "--steps", "1", "--output-dir", str(blocker)]) == 2
    assert "it is a file, not a directory" in capsys.readouterr().err


class _CtrlC:
    """Presses Ctrl-C (a real SIGINT to this process) after the second step."""

    def on_step(self, trainer, info) -> None:
        if info.step == 2:
            signal.raise_signal(signal.SIGINT)


def test_ctrl_c_stops_the_demo_and_leaves_a_loadable_last(tmp_path):
    previous = signal.getsignal(signal.SIGINT)
    result = run_demo(str(tmp_path / "d"), steps=50, threads=1, callbacks=[_CtrlC()])
    assert signal.getsignal(signal.SIGINT) is previous
    assert result["interrupted"] and result["steps"] == 2
    lm = load_language_model(result["last"])
    assert lm.score(["春风"])[0].total_logprob < 0
    assert not (tmp_path / "d" / "report.md").exists()


def _random_poem_model(line_positions: int = 0) -> NeuralLanguageModel:
    tokens = ["\n", *"白日依山尽黄河入海流春夏秋冬花月", "，", "。", "a", "!", " "]
    vocab = Vocabulary.build([tokens])
    torch.manual_seed(0)
    config = RNNLMConfig(embedding_size=8, hidden_size=8, num_layers=1, line_positions=line_positions)
    marks = [vocab.token_to_id("，"), vocab.token_to_id("。")] if line_positions else ()
    model = RNNLanguageModel(len(vocab), config, line_mark_ids=marks, boundary_id=vocab.token_to_id("\n"))
    return NeuralLanguageModel(model, CharTokenizer(), vocab, "\n")


@pytest.mark.parametrize("line_positions", [0, 16])
@pytest.mark.parametrize("form", list(FORMS))
def test_constrained_poems_always_have_the_exact_form(form, line_positions):
    """Even an untrained model (which mostly wants non-Han symbols) fills every template exactly."""
    lm = _random_poem_model(line_positions)
    for seed in range(4):
        for poem in lm.generate_poem(form, num_samples=16, temperature=1.5, top_k=3, top_p=0.5, seed=seed):
            assert poem_form(poem) == form
        lines = FORMS[form].lines
        acrostic = "春夏秋冬花月白日"[:lines]
        for poem in lm.generate_poem(form, acrostic=acrostic, num_samples=8, seed=seed):
            assert poem_form(poem) == form
            assert [line[0] for line in poem.replace("。", "，").split("，") if line] == list(acrostic)


def test_shuffled_preference_counts_wins_and_ties_as_failures():
    pairs = shuffled_copies(["abc", "aa", "xyz"], "char", seed=1)
    assert [a for a, _ in pairs] == ["abc", "xyz"] and all(a != b and sorted(a) == sorted(b) for a, b in pairs)

    class Prefers:  # log P = -position of the text in this list
        def __init__(self, order):
            self.order = order

        def score(self, texts):
            from rnnlab.lm.interface import SentenceScore

            return [SentenceScore(t, [t], [-float(self.order.index(t) if t in self.order else 99)]) for t in texts]

    originals = [a for a, _ in pairs]
    assert shuffled_preference(Prefers(originals), pairs) == (1.0, 2)
    assert shuffled_preference(Prefers([]), pairs) == (0.0, 2)  # every pair ties


def test_loss_curve_reference_line(tmp_path):
    records = [{"event": "train", "step": 1, "loss": 6.0}, {"event": "eval", "step": 2, "loss": 5.5}]
    figure = plot_loss_curve(records, tmp_path / "curve.png", reference=(5.61, "3-gram, test"))
    assert (tmp_path / "curve.png").stat().st_size > 0
    (axes,) = figure.axes
    lines = {line.get_label(): line for line in axes.get_lines()}
    assert list(lines["3-gram, test"].get_ydata()) == [5.61, 5.61]
    assert "3-gram, test" in [text.get_text() for text in axes.get_legend().get_texts()]
    with pytest.raises(ValueError):
        plot_loss_curve(records, tmp_path / "bad.png", reference=(float("nan"), "x"))

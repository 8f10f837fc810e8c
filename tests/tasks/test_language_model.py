"""The language-model task end to end on tiny data: training, checkpoints, scoring, generation, resume."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from rnnlab.cli import main
from rnnlab.config import config_from_dict
from rnnlab.data.poetry import poem_form
from rnnlab.data.tang import tang_splits
from rnnlab.lm.batching import BPTTWindows, batchify
from rnnlab.lm.interface import LanguageModel
from rnnlab.lm.neural import poem_template, stream_loss
from rnnlab.nn.language_model import RNNLanguageModel, RNNLMConfig
from rnnlab.tasks.language_model import LMTaskConfig, build, load_language_model
from rnnlab.train.run import train_task

TINY = {
    "model": {"embedding_size": 16, "hidden_size": 32, "num_layers": 1},
    "trainer": {"max_steps": 12, "max_epochs": None, "eval_every": 6, "lr": 0.01, "progress": False, "log_every": 1},
    "batch_size": 4,
    "bptt": 16,
}


@pytest.fixture(scope="module")
def poems_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "poems.txt"
    path.write_text("\n".join(tang_splits()["train"].splitlines()[:300]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(poems_file, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run")
    data = {"corpus": str(poems_file), "stop_at_line_end": True}
    config = config_from_dict(LMTaskConfig, {**TINY, "data": data, "output_dir": str(out)})
    summary = train_task(build, config)
    assert summary["steps"] == 12 and math.isfinite(summary["test"]["loss"])
    return out


def test_batchify_and_windows_tile_the_stream():
    ids = torch.arange(23)
    streams = batchify(ids, 4)  # 5 steps x 4 streams, 3 tokens dropped
    assert streams.shape == (5, 4) and streams[:, 1].tolist() == [5, 6, 7, 8, 9]
    windows = BPTTWindows(streams, 3)
    assert len(windows) == 2
    (x0, y0), (x1, y1) = windows[0], windows[1]
    assert torch.equal(x0, streams[0:3])
    assert torch.equal(y0, streams[1:4]) and torch.equal(x1, streams[3:4]) and torch.equal(y1, streams[4:5])
    with pytest.raises(ValueError, match="too few"):
        batchify(torch.arange(3), 4)


def test_stream_loss_does_not_depend_on_bptt_and_matches_a_direct_computation():
    torch.manual_seed(0)
    model = RNNLanguageModel(11, RNNLMConfig(embedding_size=8, hidden_size=8, num_layers=2, cell="gru"))
    ids = torch.randint(0, 11, (41,))
    loss_a, count = stream_loss(model, ids, batch_size=2, bptt=3)
    loss_b, _ = stream_loss(model, ids, batch_size=2, bptt=50)
    streams = batchify(ids, 2)
    logits, _ = model(streams[:-1])
    direct = torch.nn.functional.cross_entropy(logits.flatten(0, 1), streams[1:].flatten()).item()
    assert count == 38 and loss_a == pytest.approx(loss_b, rel=1e-5) and loss_a == pytest.approx(direct, rel=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn", "layernorm_lstm"])
def test_every_cell_builds_and_weight_tying_shares_the_matrix(cell):
    model = RNNLanguageModel(13, RNNLMConfig(cell=cell, embedding_size=6, hidden_size=6, tie_weights=True))
    assert model.output.weight is model.embedding.weight
    logits, state = model(torch.randint(0, 13, (5, 2)))
    assert logits.shape == (5, 2, 13)


def test_scores_are_chain_rule_sums_and_distributions_sum_to_one(trained):
    lm = load_language_model(trained)
    assert isinstance(lm, LanguageModel)
    plausible, scrambled = lm.score(["白日依山尽", "尽山依日白"])
    assert plausible.tokens == ["白", "日", "依", "山", "尽", "\n"]
    # Recompute the first sentence token by token from next-token distributions.
    context: list[str] = []
    total = 0.0
    for token in plausible.tokens:
        distribution = lm.next_token_distribution(context)
        assert sum(distribution.values()) == pytest.approx(1.0, abs=1e-6)
        total += math.log(distribution[token])
        context.append(token)
    assert plausible.total_logprob == pytest.approx(total, abs=1e-4)
    # Scoring a batch equals scoring one by one (padding never leaks).
    (alone,) = lm.score(["尽山依日白"])
    assert alone.token_logprobs == pytest.approx(scrambled.token_logprobs, abs=1e-5)
    assert lm.score(["白日 A"])[0].unknown == [" ", "A"]


def test_generation_is_seeded_and_poems_follow_the_form(trained):
    lm = load_language_model(trained)
    a = lm.generate("白", num_samples=3, max_tokens=30, temperature=0.9, top_k=20, seed=7)
    b = lm.generate("白", num_samples=3, max_tokens=30, temperature=0.9, top_k=20, seed=7)
    assert a == b and all(text.startswith("白") for text in a)
    assert lm.generate("白", greedy=True, max_tokens=10) == lm.generate("白", beam=1, max_tokens=10)
    poems = lm.generate_poem("七言绝句", num_samples=3, seed=1)
    assert all(poem_form(poem) == "七言绝句" for poem in poems)
    acrostic = lm.generate_poem(acrostic="春夏秋冬", seed=2)[0]
    assert poem_form(acrostic) == "五言绝句"
    assert [line[0] for line in acrostic.replace("。", "，").split("，") if line] == list("春夏秋冬")


def test_poem_template_errors():
    assert poem_template("五言绝句", None).count(None) == 20
    with pytest.raises(Exception, match="4 lines"):
        poem_template("五言绝句", "春夏")
    with pytest.raises(Exception, match="unknown poem form"):
        poem_template("十言", None)


def test_cli_eval_generate_score(trained, poems_file, capsys):
    assert main(["eval", str(trained), "--data", str(poems_file)]) == 0
    out = capsys.readouterr().out  # a file of poems: the free samples' rhyme and meter beside them
    assert "bits per character" in out and "poems: 64 free samples" in out and "chance rhyme" in out
    assert main(["generate", str(trained), "--prompt", "白", "--num-samples", "2", "--seed", "1",
                 "--max-tokens", "10"]) == 0  # fmt: skip
    assert main(["generate", str(trained), "--form", "五言绝句", "--seed", "1"]) == 0
    assert main(["score", str(trained), "白日依山尽", "尽山依日白"]) == 0
    out = capsys.readouterr().out
    assert "perplexity" in out and "most plausible first" in out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["generate", "{ckpt}", "--temperature", "inf"], "--temperature must be a finite number >= 0 (0 = greedy)"),
        (["generate", "{ckpt}", "--top-p", "1.5"], "--top-p must be in (0, 1]"),
        (["generate", "{ckpt}", "--prompt", "QQQ"], "every symbol of the prompt"),
        (["generate", "{ckpt}", "--acrostic", "春夏"], "an acrostic needs 4 or 8"),
        (["score", "/nonexistent/model", "白日"], "expected a model directory"),
        (["train", "lm", "--model.hiden_size", "3"], "hiden_size"),
    ],
)
def test_cli_user_errors_are_one_line(trained, argv, message, capsys):
    argv = [a.replace("{ckpt}", str(trained)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_tampered_or_truncated_checkpoint_is_refused(trained, tmp_path, capsys):
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(trained / "best", copy)
    weights = copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    assert main(["score", str(copy), "白日"]) == 2
    assert "truncated or modified" in capsys.readouterr().err


@pytest.mark.parametrize(
    "content,message",
    [(b"", "empty"), (b"\x00\x01\x02binary" * 50, "binary"), (b"ok line\n\xff\xfe bad\n" * 3, "UTF-8")],
)
def test_bad_corpora_are_refused_with_the_file_named(tmp_path, content, message, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(content)
    assert main(["train", "lm", "--data.corpus", str(corpus), "--output_dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and "corpus.txt" in err
    assert not (tmp_path / "out" / "best").exists()


def _run(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rnnlab.cli", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip


def test_sigkill_then_resume_continues_the_exact_trajectory(poems_file, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    common = ["train", "lm", "--data.corpus", str(poems_file), "--model.embedding_size", "16",
              "--model.hidden_size", "32", "--model.dropout", "0.3", "--batch_size", "4", "--bptt", "8",
              "--trainer.max_steps", "40", "--trainer.max_epochs", "null", "--trainer.eval_every", "15",
              "--trainer.save_every", "5", "--trainer.log_every", "1", "--trainer.progress", "false"]  # fmt: skip
    full = _run([*common, "--output_dir", str(tmp_path / "full")], env)
    assert full.wait(timeout=240) == 0, full.stderr.read().decode()

    killed_dir = tmp_path / "killed"
    victim = _run([*common, "--output_dir", str(killed_dir)], env)
    deadline = time.time() + 240
    while time.time() < deadline:  # kill once a mid-run checkpoint exists
        state = killed_dir / "last" / "trainer_state" / "state.json"
        if state.exists() and 10 <= json.loads(state.read_text()).get("step", 0) < 35:
            break
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    resumed = _run([*common, "--output_dir", str(killed_dir), "--resume"], env)
    assert resumed.wait(timeout=240) == 0, resumed.stderr.read().decode()

    def losses(run: Path) -> dict[int, float]:
        records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        return {r["step"]: r["loss"] for r in records if r["event"] == "train"}

    expected, got = losses(tmp_path / "full"), losses(killed_dir)
    assert len(expected) == 40 and set(got) == set(expected)
    assert all(got[step] == pytest.approx(expected[step], abs=1e-6) for step in expected)


def test_eval_data_agrees_with_score_input(trained, tmp_path, capsys):
    """`eval --data FILE` scores every token of every line the way `score --input FILE` does.

    It used to read the file as one stream cut into parallel rows from a zero state: on three poems it used
    48 of 75 tokens and reported perplexity 494.6 where `score` gave 115.9.
    """
    poems = tmp_path / "three.txt"
    poems.write_text("白日依山尽，黄河入海流。\n\n欲穷千里目，更上一层楼。\n床前明月光，疑是地上霜。\n", encoding="utf-8")
    assert main(["score", str(trained), "--input", str(poems), "--json"]) == 0
    scores = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    total = sum(score["logprob"] for score in scores)
    tokens = sum(score["tokens"] for score in scores)
    assert tokens == 3 * 13  # 12 characters and the line end, per poem line: nothing dropped
    assert main(["eval", str(trained), "--data", str(poems), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["tokens"] == tokens and result["sentences"] == 3
    assert result["ppl"] == pytest.approx(math.exp(-total / tokens), rel=1e-6)


def test_many_samples_are_generated_in_bounded_chunks(trained, monkeypatch):
    """`generate --num-samples 100000` once decoded every sample in one batch (7 GB): now CHUNK_SAMPLES rows."""
    import rnnlab.lm.neural as neural

    lm = load_language_model(trained)
    rows_seen = []
    original = neural.sample_decode

    def spy(step, state, start, **options):
        rows_seen.append(start.shape[0])
        return original(step, state, start, **options)

    monkeypatch.setattr(neural, "sample_decode", spy)
    monkeypatch.setattr(neural, "CHUNK_SAMPLES", 8)
    texts = lm.generate("白", num_samples=20, max_tokens=3, seed=0)
    assert len(texts) == 20 and rows_seen == [8, 8, 4]
    assert lm.generate("白", num_samples=20, max_tokens=3, seed=0) == texts  # still one seeded stream
    poems = lm.generate_poem("五言绝句", num_samples=10, seed=0)
    assert len(poems) == 10 and all(len(poem) == 24 for poem in poems)
    assert len(lm.generate("白", num_samples=5, temperature=0, max_tokens=3)) == 1  # 0 = greedy: one text


def test_line_positions_train_save_load_generate_and_resume_exactly(poems_file, tmp_path):
    """A model with the line-position embedding: its count is part of the carried state, so it is saved with
    the task's state and a resumed run continues the exact trajectory; the loaded model scores and samples."""
    data = {"corpus": str(poems_file), "stop_at_line_end": True}
    model = {**TINY["model"], "line_positions": 10}

    def run(out: Path, steps: int, resume: bool = False) -> dict:
        trainer = {**TINY["trainer"], "max_steps": steps, "save_every": 3}
        config = config_from_dict(LMTaskConfig, {**TINY, "model": model, "trainer": trainer, "data": data,
                                                 "output_dir": str(out)})  # fmt: skip
        return train_task(build, config, resume=resume)

    run(tmp_path / "full", 12)
    run(tmp_path / "split", 7)
    run(tmp_path / "split", 12, resume=True)

    def losses(out: Path) -> dict[int, float]:
        records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        return {r["step"]: r["loss"] for r in records if r["event"] == "train"}

    expected, got = losses(tmp_path / "full"), losses(tmp_path / "split")
    assert len(expected) == 12 and all(got[step] == pytest.approx(expected[step], abs=1e-6) for step in expected)

    lm = load_language_model(tmp_path / "full")
    assert lm.model.line_embedding is not None and lm.model.line_mark_ids.numel() >= 2
    (score,) = lm.score(["白日依山尽，黄河入海流。"])
    distribution = lm.next_token_distribution(list("白日依山尽，"))
    assert sum(distribution.values()) == pytest.approx(1.0, abs=1e-6) and math.isfinite(score.total_logprob)
    assert lm.generate("白", greedy=True, max_tokens=10) == lm.generate("白", beam=1, max_tokens=10)
    assert all(poem_form(p) == "五言绝句" for p in lm.generate_poem("五言绝句", num_samples=2, seed=1))


def test_line_positions_without_any_mark_in_the_text_is_a_config_error(tmp_path, capsys):
    corpus = tmp_path / "plain.txt"
    corpus.write_text("abcabcabc\n" * 40, encoding="utf-8")
    argv = ["train", "lm", "--data.corpus", str(corpus), "--model.line_positions", "8",
            "--output_dir", str(tmp_path / "run")]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model.line_marks: none of" in err[0]


def test_scoring_in_bounded_windows_changes_no_score(trained, monkeypatch):
    """`score` batches sentences of similar length and reads long ones in windows of steps with the state
    carried, so its memory is bounded (2,878 long poems at once took 22 GB); the numbers are the same."""
    import rnnlab.lm.neural as neural

    lm = load_language_model(trained)
    texts = ["白日依山尽，黄河入海流。欲穷千里目，更上一层楼。", "白日", "", "床前明月光，疑是地上霜。" * 3, "黄河"]
    whole = lm.score(texts)  # the default budget holds all of these in one batch
    monkeypatch.setattr(neural, "SCORE_TOKENS", 7)  # a window of 7 steps for one row, 1-3 rows per batch
    sizes, forward = [], lm._forward
    monkeypatch.setattr(lm, "_forward", lambda ids, state=None: sizes.append(ids.numel()) or forward(ids, state))
    cut = lm.score(texts)
    assert max(sizes) <= 7 and len(sizes) > len(texts)  # bounded: never more than 7 tokens' logits at once
    assert [s.text for s in cut] == texts and [s.tokens for s in cut] == [s.tokens for s in whole]
    for a, b in zip(whole, cut):
        assert a.token_logprobs == pytest.approx(b.token_logprobs, abs=1e-5)

"""Limits on what one request may cost, and numerically extreme values (docs/reliability.md, "Limits").

Every option whose cost grows without bound has a cap (`rnnlab.validation.OPTION_LIMITS`), enforced by the
shared `check_option` path (command line, verb options dataclasses, library); threads are at most the cores;
seeds are [0, 2**63 - 1] everywhere; extreme temperatures and top-p never give NaN; n-gram discounts that
make negative probabilities are refused and no such model is saved; YAML alias bombs are refused at once.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnlab import validation
from rnnlab.cli import build_parser, main
from rnnlab.config import MAX_YAML_BYTES, load_config, read_yaml
from rnnlab.errors import CheckpointError, ConfigError, UserError
from rnnlab.lm.ngram import NGramModel, _filter
from rnnlab.nn.decoding import beam_search, filter_logits, greedy_decode, sample_decode
from rnnlab.train.config import TrainerConfig
from rnnlab.train.rng import MAX_SEED, seeded_generator, set_seed
from rnnlab.validation import OPTION_LIMITS, OPTION_RULES, check_option
from rnnlab.verbs import make_options, option_fields

EXTREME = (1e-300, 1e-30, 5e-324, 1e308)
SENTENCES = ["the cat sat on the mat", "the dog sat", "a cat ran"] * 3


def _verb_options() -> list[type]:
    from rnnlab.labelling.classify_verb import ClassifyOptions
    from rnnlab.labelling.cloze_verb import ClozeOptions
    from rnnlab.labelling.tag_verb import TagOptions
    from rnnlab.lm.verbs import SamplingOptions
    from rnnlab.tasks.regressor import PredictOptions
    from rnnlab.tasks.translate_verb import TranslateOptions

    return [SamplingOptions, TranslateOptions, PredictOptions, TagOptions, ClozeOptions, ClassifyOptions]


def _one_line_error(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


# ------------------------------------------------------------------------------------------------- caps
@pytest.mark.parametrize("name", [name for name in OPTION_LIMITS if " " not in name])
def test_every_cap_is_enforced_by_the_shared_check(name):
    cap = OPTION_LIMITS[name]
    assert check_option(name, cap) == cap
    with pytest.raises(ConfigError, match=f"--{name.replace('_', '-')} must be an integer between [01] and {cap}, "
                                          f"got {cap + 1}$"):  # fmt: skip
        check_option(name, cap + 1)


def test_a_cap_of_one_command_applies_there_only():
    assert check_option("steps", 101) == 101  # demo --steps: training steps
    with pytest.raises(ConfigError, match="--steps must be an integer between 1 and 100, got 101"):
        check_option("steps", 101, "inspect bptt")


def _int_options(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, dest) of every option of type int, in every sub-command."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _int_options(sub, (*path, name))
        elif action.type is int:
            yield " ".join(path), action.dest


def test_every_integer_option_of_every_command_and_verb_has_a_rule():
    """A new count option cannot skip the shared check (and with it, its cap)."""
    found = set(_int_options(build_parser()))
    assert ("generate", "beam") in found and ("inspect bptt", "steps") in found  # the walk sees sub-commands
    exempt = {("inspect bptt", "t")}  # checked against --steps by its handler
    missing = sorted(item for item in found - exempt if item[1] not in OPTION_RULES)
    assert not missing, f"integer options without a rule in rnnlab.validation.OPTION_RULES: {missing}"
    for options in _verb_options():
        for field in option_fields(options):
            if field.kind == "int":
                assert field.name in OPTION_RULES, f"{options.__name__}.{field.name} has no shared rule"


@pytest.mark.parametrize("options", _verb_options(), ids=lambda cls: cls.__name__)
def test_verb_options_refuse_values_over_the_cap(options):
    capped = [f.name for f in option_fields(options) if f.kind == "int" and f.name in OPTION_LIMITS]
    assert capped, "every verb has a count option"
    for name in capped:
        cap = OPTION_LIMITS[name]
        with pytest.raises(ConfigError, match=f"between . and {cap}, got {cap + 1}"):
            make_options(options, {name: cap + 1})


@pytest.mark.parametrize("argv, message", [
    (["generate", "nowhere", "--beam", "1000000"], "--beam must be an integer between 1 and 256, got 1000000"),
    (["generate", "nowhere", "--num-samples", "100000000"], "--num-samples must be an integer between 1 and 100000"),
    (["generate", "nowhere", "--max-tokens", "10001"], "--max-tokens must be an integer between 1 and 10000"),
    (["translate", "nowhere", "x", "--n-best", "257"], "--n-best must be an integer between 1 and 256"),
    (["tag", "nowhere", "x", "--batch-size", "100000"], "--batch-size must be an integer between 1 and 4096"),
    (["inspect", "bptt", "--steps", "10000"], "--steps must be an integer between 1 and 100, got 10000"),
    (["inspect", "cost", "--lengths", "10", "100000"], "--lengths must be an integer between 1 and 10000"),
    (["inspect", "gradflow", "--train-steps", "1000000"], "--train-steps must be an integer between 0 and 100000"),
    (["bench", "--hidden-size", "100000"], "--hidden-size must be an integer between 1 and 4096"),
    (["demo", "--steps", "2000000"], "--steps must be an integer between 1 and 1000000"),
])  # fmt: skip
def test_cli_refuses_values_over_the_cap_before_any_work(argv, message, capsys):
    assert message in _one_line_error(argv, capsys)


# ---------------------------------------------------------------------------------------------- threads
def test_threads_above_the_cores_are_refused_naming_them(capsys):
    cores = validation.usable_cores()
    assert check_option("threads", cores) == cores
    err = _one_line_error(["inspect", "--threads", str(cores + 510), "diagram"], capsys)
    assert f"--threads {cores + 510}: this machine has {cores} core" in err and f"expected 1..{cores}" in err
    with pytest.raises(ConfigError, match="--threads must be an integer >= 1"):
        check_option("threads", 0)


# ------------------------------------------------------------------------------------------------ seeds
def test_one_seed_range_everywhere():
    assert check_option("seed", MAX_SEED) == MAX_SEED == 2**63 - 1
    for bad in (2**63, 2**64):
        with pytest.raises(ConfigError, match=f"--seed must be an integer between 0 and {MAX_SEED}, got {bad}"):
            check_option("seed", bad)
        with pytest.raises(ConfigError, match="seed"):
            set_seed(bad)
        with pytest.raises(ConfigError, match=r"seed: expected an integer in \[0, 9223372036854775807\]"):
            TrainerConfig(seed=bad)
    set_seed(MAX_SEED)  # python, numpy's legacy state (needs < 2**32) and torch all take it
    first = torch.rand(3, generator=seeded_generator(MAX_SEED))
    assert torch.equal(first, torch.rand(3, generator=seeded_generator(MAX_SEED)))
    with pytest.raises(ConfigError, match="seed"):
        load_config(TrainerConfig, overrides=[f"seed={2**64}"])


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory) -> Path:
    """A 2-step character LM trained with the largest seed (end to end: config, set_seed, batches)."""
    root = tmp_path_factory.mktemp("limits")
    (root / "text.txt").write_text("the cat sat on the mat\nthe dog sat\n" * 20, encoding="utf-8")
    argv = ["train", "lm", "--data.corpus", str(root / "text.txt"), "--model.embedding_size", "8",
            "--model.hidden_size", "8", "--model.num_layers", "1", "--batch_size", "2", "--bptt", "8",
            "--trainer.max_steps", "2", "--trainer.max_epochs", "null", "--trainer.eval_every", "2",
            "--trainer.progress", "false", "--trainer.plot", "false", "--trainer.device", "cpu",
            "--trainer.seed", str(MAX_SEED), "--output_dir", str(root / "run")]  # fmt: skip
    assert main(argv) == 0
    return root / "run"


def test_largest_seed_trains_and_generates_end_to_end(tiny_lm, tmp_path, capsys):
    from rnnlab.tasks.language_model import load_language_model

    lm = load_language_model(tiny_lm / "best")
    assert lm.generate("the", seed=MAX_SEED, max_tokens=5) == lm.generate("the", seed=MAX_SEED, max_tokens=5)
    ngram = NGramModel.train(SENTENCES, order=2, smoothing="wb")
    assert ngram.generate("the", seed=MAX_SEED, num_samples=2) == ngram.generate("the", seed=MAX_SEED, num_samples=2)
    capsys.readouterr()
    assert main(["generate", str(tiny_lm), "--seed", str(MAX_SEED), "--max-tokens", "3"]) == 0
    capsys.readouterr()
    err = _one_line_error(["generate", str(tiny_lm), "--seed", str(2**64), "--max-tokens", "3"], capsys)
    assert f"--seed must be an integer between 0 and {MAX_SEED}, got {2**64}" in err
    with pytest.raises(ConfigError, match="seed"):
        ngram.generate("the", seed=2**64)


# ----------------------------------------------------------------------------------- extreme sampling
@pytest.mark.parametrize("value", EXTREME)
def test_filter_logits_stays_finite_at_extreme_temperature_and_top_p(value):
    logits = torch.randn(4, 30, generator=torch.Generator().manual_seed(0))
    logits[:, 7] = float("-inf")  # a masked token (eos before min_len, a poem's non-Han token)
    probs = filter_logits(logits, temperature=value).softmax(-1)
    assert torch.isfinite(probs).all() and torch.allclose(probs.sum(-1), torch.ones(4))
    if value < validation.GREEDY_BELOW:  # greedy: all the mass on argmax
        assert torch.equal(probs.argmax(-1), logits.argmax(-1)) and bool((probs.max(-1).values == 1).all())
    else:  # a huge temperature: near uniform over the tokens not masked
        assert bool((probs[:, 7] == 0).all()) and probs.max() < 0.04
    if value <= 1:
        nucleus = filter_logits(logits, temperature=1.0, top_p=value).softmax(-1)
        assert torch.isfinite(nucleus).all()
        assert torch.equal((nucleus > 0).sum(-1), torch.ones(4, dtype=torch.long))  # exactly the argmax kept
        assert torch.equal(nucleus.argmax(-1), logits.argmax(-1))


def test_sampling_below_the_temperature_floor_is_greedy():
    table = torch.randn(6, 6, generator=torch.Generator().manual_seed(1))

    def step(tokens, state):
        return table[tokens], state

    start = torch.tensor([1, 2, 3])
    greedy = greedy_decode(step, None, start, eos_id=0, max_len=8)
    for temperature in (1e-300, 1e-30, 5e-324, 5e-5):
        sampled = sample_decode(step, None, start, eos_id=0, max_len=8, temperature=temperature,
                                generator=torch.Generator().manual_seed(3))  # fmt: skip
        assert [h.tokens for h in sampled] == [h.tokens for h in greedy]


@pytest.mark.parametrize("value", EXTREME)
def test_ngram_sampler_stays_finite_and_is_greedy_below_the_floor(value):
    probs = np.array([0.0, 0.05, 0.6, 0.3, 0.05])
    for filtered in (_filter(probs, value, None, None), _filter(probs, 1.0, None, min(value, 1.0))):
        assert np.isfinite(filtered).all() and abs(filtered.sum() - 1) < 1e-9 and filtered[0] == 0
    if value < validation.GREEDY_BELOW:
        assert _filter(probs, value, None, None).tolist() == [0, 0, 1, 0, 0]
    if value < 1:
        assert _filter(probs, 1.0, None, value).tolist() == [0, 0, 1, 0, 0]  # top-p keeps the most probable


def test_ngram_generate_below_the_floor_equals_greedy():
    model = NGramModel.train(SENTENCES, order=2, smoothing="wb")
    greedy = model.generate("the", greedy=True, max_tokens=6)
    for temperature in (1e-300, 5e-324, 1e-30):
        assert model.generate("the", temperature=temperature, num_samples=3, seed=0, max_tokens=6) == greedy
    assert len(model.generate("the", temperature=1e308, num_samples=3, seed=0, max_tokens=6)) == 3


# ------------------------------------------------------------------------------------- n-gram settings
@pytest.mark.parametrize("method, discounts, message", [
    ("mkn", [0.5, 1.0, 5.0], "discount D3\\+ = 5 is larger than 3 .*probabilities would be negative"),
    ("mkn", [1.5, 1.0, 1.5], "discount D1 = 1.5 is larger than 1"),
    ("mkn", [0.5, -1.0, 1.5], "discount D2 = -1 is negative"),
    ("kn", [2.0], "discount D = 2 is larger than 1"),
])  # fmt: skip
def test_discounts_that_make_negative_probabilities_are_refused_before_counting(method, discounts, message):
    def corpus():
        raise AssertionError("the corpus was read")

    with pytest.raises(ConfigError, match=message):
        NGramModel.train(corpus, order=3, smoothing=method, discount_fallback=discounts)


def test_cli_bad_discounts_or_order_write_nothing(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    out = tmp_path / "model"
    err = _one_line_error(["train", "ngram", str(corpus), "--discounts", "0.5", "1", "5", "--output_dir", str(out)],
                          capsys)  # fmt: skip
    assert "discount D3+ = 5 is larger than 3" in err and not out.exists()
    start = time.perf_counter()
    err = _one_line_error(["train", "ngram", str(corpus), "--order", "1000000000", "--output_dir", str(out)], capsys)
    assert "order: expected an integer between 1 and 20, got 1000000000" in err and not out.exists()
    assert time.perf_counter() - start < 5
    with pytest.raises(ConfigError, match="between 1 and 20"):
        NGramModel.train(SENTENCES, order=21)


def test_a_model_with_nan_or_negative_probabilities_is_never_saved(tmp_path):
    model = NGramModel.train(SENTENCES, order=2, smoothing="wb")
    model.tables.logprob[1][0] = np.nan  # what the log of a negative probability becomes
    with pytest.raises(CheckpointError, match="not saved: the 2-gram probabilities are NaN"):
        model.save(tmp_path / "model")
    assert not (tmp_path / "model").exists()


# ------------------------------------------------------------------------------------------------- YAML
def test_yaml_alias_bomb_is_refused_at_once(tmp_path):
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("task: lm\n" + "\n".join(lines) + "\n")  # 9**9 = 387 million strings expanded
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=f"{bomb}: more than 100,000 values with aliases expanded"):
        read_yaml(bomb)
    assert time.perf_counter() - start < 1
    recursive = tmp_path / "recursive.yaml"
    recursive.write_text("a: &a [1, *a]\n")
    with pytest.raises(ConfigError, match="recursive.yaml: more than"):
        read_yaml(recursive)


def test_huge_or_deep_yaml_is_refused_and_a_modest_alias_still_reads(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("# padding\n" * (MAX_YAML_BYTES // 10 + 1))
    with pytest.raises(ConfigError, match="big.yaml: config file larger than 1 MiB"):
        read_yaml(big)
    deep = tmp_path / "deep.yaml"
    deep.write_text("x: " + "[" * 1000 + "]" * 1000 + "\n")
    with pytest.raises(ConfigError, match="deep.yaml: YAML nested too deeply"):
        read_yaml(deep)
    fine = tmp_path / "fine.yaml"
    fine.write_text("base: &base {lr: 0.1, seed: 3}\ntrainer: *base\nlist: &l [1, 2]\nother: [*l, *l]\n")
    assert read_yaml(fine)["trainer"] == {"lr": 0.1, "seed": 3}


# ----------------------------------------------------------------------------------------------- memory
def test_check_memory_refuses_an_estimate_over_what_is_available():
    validation.check_memory(1000, "a small request", available=2000)
    with pytest.raises(UserError, match=r"^beam search needs about 3\.0 GiB of memory, 1\.0 GiB is available; "
                                        r"use a smaller --beam$"):  # fmt: skip
        validation.check_memory(3 * 2**30, "beam search", available=2**30, hint="use a smaller --beam")
    assert validation.available_memory() is None or validation.available_memory() > 0


def test_beam_search_is_refused_up_front_when_it_cannot_fit(monkeypatch):
    calls = []

    def step(tokens, state):
        calls.append(len(tokens))
        return torch.zeros(len(tokens), 50), state

    monkeypatch.setattr(validation, "available_memory", lambda: 10_000)  # bytes
    with pytest.raises(UserError, match="beam search of 8 beams x 2 input\\(s\\) over 50 tokens needs about"):
        beam_search(step, torch.zeros(1, 2, 1), torch.tensor([1, 1]), reorder_state=lambda s, i: s.index_select(1, i),
                    beam_size=8, eos_id=0, max_len=100)  # fmt: skip
    assert calls == [16]  # refused after the first step, before the search grows
    monkeypatch.setattr(validation, "available_memory", lambda: 2**30)
    beam_search(step, torch.zeros(1, 2, 1), torch.tensor([1, 1]), reorder_state=lambda s, i: s.index_select(1, i),
                beam_size=8, eos_id=0, max_len=3)  # fmt: skip


def test_docs_list_every_cap():
    text = (Path(__file__).parents[1] / "docs" / "reliability.md").read_text(encoding="utf-8")
    section = text.split("## Limits", 1)[1].split("\n## ", 1)[0]
    for name in OPTION_LIMITS:
        flag = name if " " in name else "--" + name.replace("_", "-")
        assert f"`{flag}`" in section, f"{flag} is not in docs/reliability.md, Limits"
    for rule in ("trainer.seed", "GREEDY_BELOW", "MAX_NGRAM_ORDER", "MAX_YAML_BYTES", "check_memory"):
        assert rule in section

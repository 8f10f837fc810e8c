"""The generated CLI fuzzer (tests/cli_fuzz_generated.py): every option of every command, boundary values by type.

`test_generated_fuzz_sample` runs a fixed-seed sample of the grid (every base invocation, one case of every
command, random cases up to SAMPLE_SIZE); `test_generated_fuzz_full_grid` (marked slow, skipped by default:
`pytest -m slow tests/test_cli_fuzz_generated.py`) runs all of it, as `python scripts/fuzz_cli.py` does.
A failure lists every failing case: its class, its argv and the first lines of its stderr or traceback.
"""

from __future__ import annotations

import signal

import pytest

from tests.cli_fuzz_generated import (
    BASE,
    BASES,
    BLOCKED,
    EXIT_CODE,
    GRIDS,
    STDERR,
    TRACEBACK,
    Case,
    Option,
    Worker,
    WorkerDied,
    WorkerHung,
    build_argv,
    enumerate_cases,
    expected_bases,
    judge,
    run_cases,
    sample_cases,
    summarize,
)

SAMPLE_SIZE = 200  # about 40 s on a busy 2-core machine when every case passes (fixture models included)
SEED = 0


def test_every_command_has_a_base():
    """A command (or task) added without a base invocation in BASES fails here: add a valid one."""
    expected = set(expected_bases())
    missing = sorted(expected - set(BASES))
    assert not missing, f"commands without a base invocation in tests/cli_fuzz_generated.py BASES: {missing}"
    stale = sorted(set(BASES) - expected)
    assert not stale, f"BASES names commands the CLI no longer has: {stale}"


def test_every_option_verb_field_and_config_key_is_enumerated():
    from rnnlab.config import config_fields
    from rnnlab.tasks.registry import all_verbs, discover_tasks, get_task

    options = {(case.command, case.option) for case in enumerate_cases()}
    for name, verb in all_verbs().items():
        for item in verb.fields:
            flag = f"--no-{item.flag[2:]}" if item.kind == "bool" and item.default else item.flag
            assert (name, flag) in options, f"verb option {name} {flag} is not fuzzed"
    for task in discover_tasks():
        for key, _type, _default in config_fields(get_task(task).config_class):
            assert (f"train {task}", f"--{key}") in options, f"config key {key} of task {task} is not fuzzed"
    assert ("inspect diagram", "--threads") in options  # an option of the parent `inspect` parser
    assert ("eval", "checkpoint") in options  # positionals too


def test_values_follow_the_option_type():
    values = {(case.command, case.option): set() for case in enumerate_cases()}
    for case in enumerate_cases():
        values[(case.command, case.option)].add(case.value.split(" [base")[0])
    assert {"nan", "inf", "5e-324"} <= values[("generate", "--temperature")]  # float, from the options dataclass
    assert {"0", "-1", "2**64", "10**9"} <= values[("translate", "--beam")]  # int
    assert "non-UTF-8 file" in values[("score", "--input")] and "/" in values[("eval", "--out")]  # paths
    assert values[("tag", "--format")] == {"near-miss 'AUTO'", "near-miss 'aut'", "near-miss ''"}  # a Literal
    assert values[("train lm", "--trainer.progress")] == {"maybe", "empty"}  # a bool config key
    assert values[("train lm", "--trainer.betas")] == {"empty", "[1,"}  # a tuple config key
    assert values[("score", "--json")] == {"on"}  # a flag
    assert len(GRIDS["path"]) == len(values[("train lm", "--output_dir")])


def test_build_argv_replaces_one_option_of_a_valid_base():
    option = Option(("generate",), "--max-tokens", "int")
    assert build_argv("generate {lm} --max-tokens 5 --seed 1", option, (("checkpoint", None),), "-1") == [
        "generate", "{lm}", "--seed", "1", "--max-tokens=-1"]  # fmt: skip
    positional = Option(("score",), "inputs", "text", positional=True)
    assert build_argv("score {lm} 'a b' c --json", positional, (("checkpoint", None), ("inputs", "*")), "") == [
        "score", "{lm}", "", "--json"]  # fmt: skip
    from_file = Option(("score",), "--input", "path")  # inputs given both ways would be refused for that alone
    assert build_argv("score {lm} 'a b'", from_file, (("checkpoint", None), ("inputs", "*")), "{dir}") == [
        "score", "{lm}", "--input={dir}"]  # fmt: skip
    parent = Option(("inspect", "diagram"), "--threads", "int", owner=1)
    assert build_argv("inspect diagram --out x.png", parent, (), "0") == ["inspect", "--threads=0", "diagram", "--out",
                                                                          "x.png"]  # fmt: skip
    target = Option(("train", "lm"), "target", "name", positional=True)
    assert build_argv("train lm --bptt 8", target, (("target", None),), "/") == ["train", "/", "--bptt", "8"]


def test_judge_names_each_failure_class():
    case = Case("generate", "--top-k", "0", ("generate",))
    ok = {"code": 2, "stderr": "rnnlab: error: --top-k must be an integer >= 1\n", "stderr_lines": 1,
          "traceback": None, "run_dir": None}  # fmt: skip
    assert judge(case, ok) == ([], "")
    assert judge(case, {**ok, "code": 0, "stderr": "a warning\nanother\n", "stderr_lines": 2})[0] == []
    assert judge(case, {**ok, "stderr": "rnnlab: error: a\nmore\n", "stderr_lines": 2})[0] == [STDERR]
    assert judge(case, {**ok, "code": 1, "traceback": "Traceback ...\nValueError: x"})[0] == [TRACEBACK, EXIT_CODE]
    assert judge(case, {**ok, "run_dir": "blocks"})[0] == [BLOCKED]
    assert judge(Case("eval", "base", "", ("eval",)), ok)[0] == [BASE]


def test_worker_death_and_overrun_are_detected(tmp_path):
    worker = Worker(tmp_path)
    try:
        with pytest.raises(WorkerDied, match="SIGSEGV"):
            worker.call({"op": "signal", "signal": int(signal.SIGSEGV)}, timeout=60)
        with pytest.raises(WorkerHung):
            worker.call({"op": "sleep", "seconds": 60}, timeout=1)
        assert worker.proc is None  # killed; the next call starts a fresh one
        assert worker.call({"op": "sleep", "seconds": 0}, timeout=60) == {}
    finally:
        worker.stop()


def test_generated_fuzz_sample():
    """A fixed-seed sample of the grid: exit 0 or 2, one `rnnlab: error:` line, nothing else touched."""
    results = run_cases(sample_cases(enumerate_cases(), SAMPLE_SIZE, SEED), timeout=20)
    if any(result.failures for result in results):
        pytest.fail(summarize(results), pytrace=False)


@pytest.mark.slow
def test_generated_fuzz_full_grid():
    """Every command x option x value (about 2,700 cases, 10-30 minutes on two cores): run it with
    `pytest -m slow tests/test_cli_fuzz_generated.py` or `python scripts/fuzz_cli.py`."""
    results = run_cases(enumerate_cases(), timeout=30)
    if any(result.failures for result in results):
        pytest.fail(summarize(results), pytrace=False)

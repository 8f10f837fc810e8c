"""Verbs a task brings with it: registered in a test or by an outside package, listed, run, artifacts written.

The task here ("negative") is what a plugin author writes: a model directory with a config.json, a `load`,
and one verb that reads image files and returns a PNG artifact (the image, inverted) and a result dict.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image

from rnnlab.cli import build_parser, main
from rnnlab.tasks import registry
from rnnlab.verbs import Artifact, TextDelta, Verb, make_options

PLUGIN_SOURCE = '''
"""A plugin task: invert images (the model directory only says which task it is)."""
import io
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageOps

from rnnlab.tasks.registry import EvalRequest, TaskDescriptor, register_task
from rnnlab.verbs import Artifact, Verb


@dataclass
class Config:
    output_dir: str = "runs/negative"


@dataclass
class NegativeOptions:
    size: int = field(default=0, metadata={"help": "resize to this many pixels wide first (0: as is)"})


def run(model, paths, options):
    for path in paths:
        image = Image.open(path).convert("RGB")
        if options.size:
            image = image.resize((options.size, max(1, image.height * options.size // image.width)))
        out = io.BytesIO()
        ImageOps.invert(image).save(out, format="PNG")
        yield {"image": str(path), "width": image.width, "height": image.height}
        yield Artifact("image/png", out.getvalue(), Path(path).stem + "-negative.png")


NEGATIVE = Verb(name="{verb}", help="invert images", options=NegativeOptions, run=run, inputs="files",
                what="images", artifacts=True)

DESCRIPTOR = register_task(TaskDescriptor(
    name="{task}", summary="image negatives (a plugin)", config_class=Config,
    train=lambda config, resume: {}, load=lambda path: "model", evaluate=lambda path, request: {},
    format_eval=str, verbs=(NEGATIVE,), docs="https://example.org/negative",
))
'''


def _plugin(verb: str, task: str) -> str:
    return PLUGIN_SOURCE.replace("{verb}", verb).replace("{task}", task)


@pytest.fixture
def clean_registry(monkeypatch):
    """The registry as discovery leaves it, restored after the test (tasks registered here do not leak)."""
    registry.discover_tasks()
    monkeypatch.setattr(registry, "_TASKS", dict(registry._TASKS))
    monkeypatch.setattr(registry, "_LIVE", registry._LIVE)
    monkeypatch.setattr(registry, "_WARNINGS", list(registry._WARNINGS))
    monkeypatch.setattr(registry, "_PRINTED", set(registry._PRINTED))
    return registry


def _install_plugin(root: Path, monkeypatch, module: str, source: str, entry: str) -> None:
    """A package `module` with a dist-info naming it under the `rnnlab.tasks` entry-point group."""
    (root / f"{module}.py").write_text(source, encoding="utf-8")
    dist = root / f"{module}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text(f"[rnnlab.tasks]\n{entry} = {module}\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(root))


def _model_dir(root: Path, task: str) -> Path:
    directory = root / "model"
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps({"task": task}))
    return directory


def _png(path: Path, size=(6, 4)) -> Path:
    Image.new("RGB", size, (250, 10, 10)).save(path)
    return path


def test_plugin_verb_reads_images_and_returns_png_artifacts(clean_registry, tmp_path, monkeypatch, capsys):
    _install_plugin(tmp_path, monkeypatch, "rnnlab_negative", _plugin("negative", "negative"),
                    "negative")  # fmt: skip
    monkeypatch.setattr(registry, "_DISCOVERED", False)
    assert "negative" in registry.discover_tasks()
    model = _model_dir(tmp_path, "negative")
    image = _png(tmp_path / "red.png")

    parser = build_parser()  # the verb is a command, with its option, its --out and its --json
    assert "negative" in parser._subparsers._group_actions[0].choices
    assert main(["negative", str(model), str(image), "--size", "3", "--out", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [f"{image}\t3\t2"]
    assert captured.err.strip() == f"image/png: {tmp_path / 'out' / 'red-negative.png'}"
    written = Image.open(tmp_path / "out" / "red-negative.png")
    assert written.size == (3, 2) and written.getpixel((0, 0)) == (5, 245, 245)

    assert main(["negative", str(model), str(image), "--json", "--out", str(tmp_path / "json")]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines == [{"image": str(image), "width": 6, "height": 4},
                     {"artifact": "red-negative.png", "media_type": "image/png",
                      "path": str(tmp_path / "json" / "red-negative.png")}]  # fmt: skip
    assert sorted(p.name for p in model.iterdir()) == ["config.json"]  # nothing written into the model

    from tests.test_cli_fuzz import (  # the fuzz table demands rows for the new verb
        PART_A_ROWS,
        ROWS,
        _commands,
        _covers,
    )

    missing = [c for c in _commands(build_parser()) if not any(_covers(row, c) for row, _ in ROWS + PART_A_ROWS)]
    assert missing == [("negative",)]


def test_a_verb_registered_in_a_test_is_listed_and_callable_without_argparse(clean_registry, tmp_path, capsys,
                                                                             monkeypatch):
    monkeypatch.chdir(tmp_path)  # artifacts without --out land in the current directory
    @dataclass
    class EchoOptions:
        times: int = field(default=1, metadata={"help": "repeat each input"})
        shout: bool = False

    def run(model, inputs, options):
        for text in inputs:
            yield TextDelta(text)
            yield {"text": (text.upper() if options.shout else text) * options.times}
            yield Artifact("text/plain", text.encode(), "echo.txt")

    echo = Verb(name="echo", help="say it again", options=EchoOptions, run=run, artifacts=True, what="texts")
    clean_registry.register_task(registry.TaskDescriptor(
        name="echoer", summary="repeats", config_class=EchoOptions, train=lambda c, r: {}, load=lambda p: None,
        evaluate=lambda p, r: {}, format_eval=str, verbs=(echo,)))  # fmt: skip

    options = make_options(EchoOptions, {"times": 2, "shout": True})  # what a server does: no argparse
    outputs = list(echo.run(None, ["hi"], options))
    assert outputs[1] == {"text": "HIHI"} and isinstance(outputs[2], Artifact)

    with pytest.raises(SystemExit):
        main(["--help"])
    listing = capsys.readouterr().out
    assert "echo" in listing and "say it again" in listing
    model = _model_dir(tmp_path, "echoer")
    assert main(["echo", str(model), "a", "b", "--times", "3", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "a\nb\n"  # streamed text, then the line ends (the result was already shown)
    assert (tmp_path / "echo.txt").read_text() == "a" and (tmp_path / "echo-2.txt").read_text() == "b"
    assert main(["echo", str(model), "a", "--times", "0"]) == 0  # no rule for `times`: the task's own business
    assert (tmp_path / "echo.txt").read_text() == "a"


def test_options_are_checked_with_the_command_lines_wording():
    from rnnlab.errors import ConfigError
    from rnnlab.lm.verbs import SamplingOptions

    assert make_options(SamplingOptions, {"top_k": 5, "stop": ["。"]}).top_k == 5
    for values, message in (({"top_k": 0}, "--top-k must be an integer >= 1, got 0"),
                            ({"temperature": float("inf")}, "--temperature must be a finite number >= 0"),
                            ({"top_kk": 3}, "unknown option(s) top_kk; expected some of prompt"),
                            ({"num_samples": "3"}, "--num-samples: expected int, got '3'"),
                            ({"stop": "x"}, "--stop: expected list")):  # fmt: skip
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
            make_options(SamplingOptions, values)


def test_a_verb_offered_twice_must_share_its_options(clean_registry):
    from rnnlab.lm.verbs import GENERATE

    @dataclass
    class Other:
        top_k: int = 3

    clash = Verb(name="generate", help="x", options=Other, run=GENERATE.run, inputs="none")
    with pytest.raises(registry.RegistrationClash, match="must share its options dataclass"):
        clean_registry.register_task(registry.TaskDescriptor(
            name="other-lm", summary="x", config_class=Other, train=lambda c, r: {}, load=lambda p: None,
            evaluate=lambda p, r: {}, format_eval=str, verbs=(clash,)))  # fmt: skip


def test_verb_definitions_refuse_what_the_command_line_cannot_carry():
    @dataclass
    class Bad:
        weights: dict = field(default_factory=dict)

    @dataclass
    class Reserved:
        json: bool = False

    with pytest.raises(TypeError, match="unsupported option type"):
        Verb(name="bad", help="x", options=Bad, run=lambda m, i, o: [])
    with pytest.raises(ValueError, match="the command line's own"):
        Verb(name="bad", help="x", options=Reserved, run=lambda m, i, o: [])


def test_a_plugin_that_fails_to_import_or_clashes_is_one_warning(clean_registry, tmp_path, monkeypatch, capsys):
    _install_plugin(tmp_path, monkeypatch, "rnnlab_broken", "raise RuntimeError('no such backend\\nsecond line')",
                    "broken")  # fmt: skip
    _install_plugin(tmp_path, monkeypatch, "rnnlab_clash", _plugin("negative", "lm"), "clash")
    monkeypatch.setattr(registry, "_DISCOVERED", False)
    tasks = registry.discover_tasks()
    lines = sorted(capsys.readouterr().err.splitlines())  # entry points come in no set order
    assert len(lines) == 2, lines
    assert "skipped plugin 'broken' (rnnlab_broken, rnnlab_broken): RuntimeError: no such backend second line" in lines[0]
    assert "skipped plugin 'clash'" in lines[1] and "task 'lm' is registered twice" in lines[1]
    assert tasks["lm"].build is not None and tasks["lm"].verb("negative") is None  # the shipped lm, untouched
    assert main(["runs", str(tmp_path)]) == 0


@pytest.mark.parametrize("command", [["--help"], ["generate", "--help"], ["data", "list", "--kind", "nope"]])
def test_a_broken_plugin_leaves_every_command_working_in_a_fresh_process(tmp_path, command):
    """The real thing: a new interpreter, the plugin on its path, the command index built and then read."""
    _write_broken_plugin(tmp_path)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path), "RNNLAB_INDEX_CACHE": str(tmp_path / "cache"),
           "HOME": str(tmp_path)}  # fmt: skip
    for _ in range(2):  # the first run describes the tasks, the second reads the cached index
        done = subprocess.run([sys.executable, "-m", "rnnlab.cli", *command], capture_output=True, text=True,
                              env=env, timeout=120)  # fmt: skip
        warnings = [line for line in done.stderr.splitlines() if "warning" in line]
        assert len(warnings) == 1 and "skipped plugin 'broken'" in warnings[0], done.stderr
        assert "Traceback" not in done.stderr
        assert done.returncode == (2 if "nope" in command else 0), done.stderr


def _write_broken_plugin(root: Path) -> None:
    (root / "rnnlab_broken.py").write_text("import no_such_module_anywhere\n")
    dist = root / "rnnlab_broken-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: rnnlab_broken\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[rnnlab.tasks]\nbroken = rnnlab_broken\n")


def test_help_comes_from_the_cached_index_without_importing_torch(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "RNNLAB_INDEX_CACHE": str(tmp_path), "HOME": str(tmp_path)}
    probe = ("import sys; from rnnlab.cli import main\n"
             "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
             "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr)")  # fmt: skip
    first = subprocess.run([sys.executable, "-c", probe, "--help"], capture_output=True, text=True, env=env)
    assert list(tmp_path.glob("cli-index-*.json")), first.stderr
    for command in (["--help"], ["generate", "--help"], ["tag", "--help"], ["eval", "--help"]):
        done = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True, text=True, env=env)
        assert done.stderr.strip().endswith("NO-TORCH"), (command, done.stderr)
        assert "usage: rnnlab" in done.stdout


def test_a_stale_index_is_never_read(tmp_path, monkeypatch):
    from rnnlab.tasks import index

    monkeypatch.setenv("RNNLAB_INDEX_CACHE", str(tmp_path))
    monkeypatch.setattr(registry, "_LIVE", False)
    monkeypatch.setattr(registry, "_DISCOVERED", False)
    monkeypatch.setattr(registry, "discover_tasks", lambda: {})  # the index "made" from no tasks
    assert index.command_index()["tasks"] == {}
    monkeypatch.setattr(index, "_fingerprint", lambda: "changed")  # a file of rnnlab changed since
    monkeypatch.setattr(index, "describe_registry", lambda: {"version": index.INDEX_VERSION, "tasks": {"x": {}},
                                                             "verbs": {}, "warnings": []})  # fmt: skip
    assert index.command_index()["tasks"] == {"x": {}}
    assert [p.name for p in tmp_path.glob("cli-index-*.json")] == ["cli-index-changed.json"]  # the old one dropped


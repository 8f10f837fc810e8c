"""Configs: YAML + overrides, type conversion, nested sections, one error style, round-trip, config_fields."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

import pytest

from rnnlab.config import (
    InvalidValue,
    config_fields,
    config_from_dict,
    config_to_dict,
    load_config,
    parse_overrides,
    require,
)
from rnnlab.errors import ConfigError
from rnnlab.train import TrainerConfig


@dataclass
class ModelSection:
    hidden_size: int = 32
    cell: Literal["lstm", "gru", "rnn"] = "lstm"
    dropout: float = 0.0


@dataclass
class Experiment:
    name: str = "run"
    layers: list[int] = field(default_factory=lambda: [1, 2])
    tied: bool = False
    budget: Optional[float] = None  # noqa: UP045 (the Optional spelling must work too)
    data: str = "data/train.txt"
    model: ModelSection = field(default_factory=ModelSection)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)

    def __post_init__(self) -> None:
        require(bool(self.name), "name", "a non-empty string", self.name)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file():
    assert load_config(Experiment) == Experiment()


def test_yaml_then_overrides_with_coercion(tmp_path):
    path = write(
        tmp_path,
        "name: first\nlayers: [3, 4]\nmodel:\n  hidden_size: 64\n  cell: gru\ntrainer:\n  lr: 1e-3\n  max_steps: 100\n",
    )
    cfg = load_config(
        Experiment,
        path,
        ["model.hidden_size=128", "--trainer.lr", "0.5", "--tied", "--budget=2.5", "trainer.clip-grad-norm=null",
         "--trainer.betas", "[0.8, 0.95]", "data=/tmp/x.txt"],
    )
    assert cfg.name == "first"
    assert cfg.layers == [3, 4]
    assert cfg.model == ModelSection(hidden_size=128, cell="gru")
    assert cfg.trainer.lr == 0.5 and isinstance(cfg.trainer.lr, float)
    assert cfg.trainer.max_steps == 100
    assert cfg.trainer.clip_grad_norm is None
    assert cfg.trainer.betas == (0.8, 0.95)
    assert cfg.tied is True and cfg.budget == 2.5 and cfg.data == "/tmp/x.txt"


def test_yaml_string_numbers_are_coerced(tmp_path):
    # PyYAML reads "1e-3" (no dot) as a string; the float field still gets a float
    cfg = load_config(Experiment, write(tmp_path, "trainer:\n  lr: 1e-3\n  max_epochs: 2.0\n"))
    assert cfg.trainer.lr == pytest.approx(1e-3) and cfg.trainer.max_epochs == 2


def test_parse_overrides_forms():
    assert parse_overrides(["a=1", "--b", "x y", "--c=3", "--flag", "--d.e-f", "-2"]) == {
        "a": "1", "b": "x y", "c": "3", "flag": "true", "d": {"e_f": "-2"},
    }
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["oops"])


def test_list_override_comma_form():
    assert load_config(Experiment, overrides=["layers=5,6,7"]).layers == [5, 6, 7]


@pytest.mark.parametrize(
    "overrides, pattern",
    [
        (["model.hiden_size=3"], r"unknown key 'model.hiden_size' \(did you mean 'model.hidden_size'\?\).*model.cell"),
        (["trainer.lrr=1"], r"unknown key 'trainer.lrr' \(did you mean 'trainer.lr'\?\)"),
        (["model.hidden_size=abc"], r"^command line: model.hidden_size: expected an integer, got 'abc'$"),
        (["model.hidden_size=2.5"], r"model.hidden_size: expected an integer, got '2.5'"),
        (["model.cell=lstn"], r"model.cell: expected one of 'lstm', 'gru', 'rnn', got 'lstn' \(did you mean 'lstm'\?\)"),
        (["tied=maybe"], r"tied: expected a boolean \(true/false\), got 'maybe'"),
        (["budget=lots"], r"budget: expected a number, got 'lots'"),
        (["layers=1,x"], r"layers\[1\]: expected an integer, got 'x'"),
        (["trainer.betas=0.9"], r"trainer.betas: expected a list of 2 values"),
        (["trainer.lr=-1"], r"^command line: trainer.lr: expected a finite value > 0, got -1.0$"),
        (["trainer.max_epochs=null"], r"trainer.max_steps: expected a limit: set max_steps, max_epochs or max_minutes"),
        (["name="], r"^command line: name: expected a non-empty string, got ''$"),
        (["model=3"], r"model: expected a section"),
    ],
)
def test_override_errors(overrides, pattern):
    with pytest.raises(ConfigError, match=pattern):
        load_config(Experiment, overrides=overrides)


def test_unknown_key_in_file_names_file_key_and_valid_keys(tmp_path):
    path = write(tmp_path, "model:\n  hidden: 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(Experiment, path)
    message = str(info.value)
    assert str(path) in message and "'model.hidden'" in message
    assert "did you mean 'model.hidden_size'" in message and "valid keys: model.hidden_size, model.cell" in message


def test_bad_yaml_names_file_and_line(tmp_path):
    path = write(tmp_path, "name: a\nmodel: [1, 2\n")
    with pytest.raises(ConfigError, match=rf"{path.name}:\d+: invalid YAML"):
        load_config(Experiment, path)
    with pytest.raises(ConfigError, match="not found"):
        load_config(Experiment, tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(Experiment, write(tmp_path, "- 1\n- 2\n"))


def test_round_trip_and_dotted_keys():
    cfg = load_config(Experiment, overrides=["trainer.betas=0.5,0.6", "model.cell=rnn", "budget=3"])
    data = config_to_dict(cfg)
    assert data["trainer"]["betas"] == [0.5, 0.6] and data["data"] == "data/train.txt" and data["budget"] == 3.0
    assert config_from_dict(Experiment, data) == cfg
    assert config_from_dict(Experiment, {"model.hidden_size": 7}).model.hidden_size == 7


def test_missing_required_key():
    @dataclass
    class Needs:
        path: str

    with pytest.raises(ConfigError, match="missing required key.*path"):
        config_from_dict(Needs, {}, source="x.yaml")
    assert config_from_dict(Needs, {"path": "p"}).path == "p"


def test_partial_section_override_keeps_the_parents_own_defaults():
    import dataclasses

    from rnnlab.config import load_config
    from rnnlab.train import TrainerConfig

    @dataclasses.dataclass
    class TaskConfig:
        trainer: TrainerConfig = dataclasses.field(
            default_factory=lambda: TrainerConfig(metric="accuracy", mode="max")
        )

    config = load_config(TaskConfig, None, ["--trainer.lr", "0.1"])
    assert config.trainer.lr == 0.1
    assert config.trainer.metric == "accuracy" and config.trainer.mode == "max"


def test_yaml_values_convert_to_the_field_type(tmp_path):
    path = write(tmp_path, "name: 2024\ntied: yes\nbudget: 3\nmodel:\n  hidden_size: 1e2\n  dropout: 0\n")
    cfg = load_config(Experiment, path)
    assert cfg.name == "2024" and cfg.tied is True
    assert cfg.budget == 3.0 and isinstance(cfg.budget, float)
    assert cfg.model.hidden_size == 100 and isinstance(cfg.model.hidden_size, int)
    assert isinstance(cfg.model.dropout, float)
    with pytest.raises(ConfigError, match=rf"^{path}: tied: expected a boolean"):
        load_config(Experiment, write(tmp_path, "tied: 1\n"))
    with pytest.raises(ConfigError, match=r"name: expected a string, got True"):
        load_config(Experiment, write(tmp_path, "name: true\n"))
    with pytest.raises(ConfigError, match=r"\+ command line: model.hidden_size: expected an integer"):
        load_config(Experiment, write(tmp_path, "name: x\n"), ["model.hidden_size=x"])


def test_require_raises_one_message_shape():
    with pytest.raises(InvalidValue, match=r"^lr: expected > 0, got -1$") as info:
        require(False, "lr", "> 0", -1)
    assert (info.value.key, info.value.expected, info.value.got) == ("lr", "> 0", -1)
    assert isinstance(info.value, ConfigError)
    with pytest.raises(InvalidValue, match=r"^tie: expected a == b, got a=1, b='x'$"):
        require(False, "tie", "a == b", {"a": 1, "b": "x"})
    require(True, "lr", "> 0", 1)
    with pytest.raises(InvalidValue, match=r"^lr: expected a finite value > 0"):  # built directly, no source or section
        TrainerConfig(lr=0)


def test_post_init_errors_name_the_section_they_come_from(tmp_path):
    from rnnlab.tasks.language_model import LMTaskConfig
    from rnnlab.tasks.translation import TranslationConfig

    path = write(tmp_path, "data:\n  min_freq: 0\n")
    with pytest.raises(ConfigError, match=rf"^{path}: data.min_freq: expected an integer from 1 to 16,777,216, got 0$"):
        load_config(LMTaskConfig, path)
    with pytest.raises(ConfigError, match=r"^command line: batch_size: expected an integer from 1 to 16,777,216, got 0$"):
        load_config(LMTaskConfig, overrides=["batch_size=0"])
    with pytest.raises(ConfigError, match=r"^command line: decode.n_best: expected 1 <= n_best <= beam_size"):
        load_config(TranslationConfig, overrides=["decode.beam_size=2", "decode.n_best=3"])
    with pytest.raises(ConfigError, match=r"^command line: vocab.model_type: expected unigram or bpe, got 'wp'$"):
        load_config(TranslationConfig, overrides=["vocab.model_type=wp"])
    with pytest.raises(ConfigError, match=r"^command line: model.num_layers: expected an integer from 1 to 256, got 10"):
        load_config(LMTaskConfig, overrides=["model.num_layers=1000000000"])  # used to build layers for minutes
    with pytest.raises(ConfigError, match=r"^command line: model.hidden_size: expected an integer from 1 to 16,777,216"):
        load_config(LMTaskConfig, overrides=[f"model.hidden_size={2**64}"])  # used to overflow inside torch
    with pytest.raises(ConfigError, match=r"^command line: model.dropout: expected a value in \[0, 1\), got 1.0$"):
        load_config(TranslationConfig, overrides=["model.dropout=1"])


def test_unsupported_field_type_is_a_programming_error():
    @dataclasses.dataclass
    class Odd:
        path: Path = Path(".")

    with pytest.raises(TypeError, match="unsupported field type"):
        config_from_dict(Odd, {"path": "x"})


def test_config_fields_lists_every_leaf_with_its_parents_default():
    @dataclasses.dataclass
    class Task:
        model: ModelSection = field(default_factory=lambda: ModelSection(hidden_size=64))
        trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(metric="accuracy"))
        name: str = "task"
        budget: Optional[float] = None  # noqa: UP045
        layers: list[int] = field(default_factory=lambda: [1, 2])

    rows = config_fields(Task)
    by_key = {key: (type_name, default) for key, type_name, default in rows}
    assert [key for key, _, _ in rows][:3] == ["model.hidden_size", "model.cell", "model.dropout"]
    assert by_key["model.hidden_size"] == ("int", 64)
    assert by_key["model.cell"] == ("lstm|gru|rnn", "lstm")
    assert by_key["model.dropout"] == ("float", 0.0)
    assert by_key["trainer.metric"] == ("str", "accuracy")
    assert by_key["trainer.betas"] == ("tuple[float, float]", (0.9, 0.999))
    assert by_key["trainer.max_steps"] == ("int|null", None)
    assert by_key["trainer.progress"] == ("bool", True)
    assert by_key["budget"] == ("float|null", None)
    assert by_key["layers"] == ("list[int]", [1, 2])
    assert len(rows) == 3 + len(dataclasses.fields(TrainerConfig)) + 3

    @dataclasses.dataclass
    class Needs:
        path: str

    assert config_fields(Needs) == [("path", "str", dataclasses.MISSING)]


def test_config_fields_of_every_task_config_load_back_from_the_command_line():
    """Every key config_fields lists can be set from the command line with its own default's text."""
    from rnnlab.tasks.registry import discover_tasks

    for cls in [task.config_class for task in discover_tasks().values()]:
        rows = config_fields(cls)
        assert rows and all(dataclasses.MISSING is not default for _, _, default in rows)
        overrides = []
        for key, _, default in rows:
            text = "null" if default is None else ",".join(map(str, default)) if isinstance(default, tuple) else str(default)
            overrides.append(f"{key}={text}")
        assert load_config(cls, overrides=overrides) == cls(), cls.__name__

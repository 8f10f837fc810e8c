"""Configs: YAML + overrides, type coercion, nested sections, unknown-key errors, round-trip."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

import pytest

from rnnlab.config import config_from_dict, config_to_dict, load_config, parse_overrides
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
    data: Path = Path("data/train.txt")
    model: ModelSection = field(default_factory=ModelSection)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("name must not be empty")


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
    assert cfg.tied is True and cfg.budget == 2.5 and cfg.data == Path("/tmp/x.txt")


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
        (["model.hidden_size=abc"], r"'model.hidden_size' expects an integer, got 'abc'"),
        (["model.hidden_size=2.5"], r"expects an integer"),
        (["model.cell=lstn"], r"'model.cell' expects one of 'lstm', 'gru', 'rnn', got 'lstn' \(did you mean 'lstm'\?\)"),
        (["tied=maybe"], r"'tied' expects a boolean"),
        (["trainer.lr=-1"], r"lr must be > 0"),
        (["name="], r"name must not be empty"),
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
    assert data["trainer"]["betas"] == [0.5, 0.6] and data["data"] == "data/train.txt"
    assert config_from_dict(Experiment, data) == cfg
    assert config_from_dict(Experiment, {"model.hidden_size": 7}).model.hidden_size == 7


def test_missing_required_key():
    @dataclass
    class Needs:
        path: str

    with pytest.raises(ConfigError, match="missing required key.*path"):
        config_from_dict(Needs, {}, source="x.yaml")
    assert config_from_dict(Needs, {"path": "p"}).path == "p"


def test_argparse_integration(tmp_path):
    import argparse

    from rnnlab.config import add_config_arguments, config_from_args

    path = write(tmp_path, "model:\n  hidden_size: 64\ntrainer:\n  lr: 0.2\n")
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, Experiment)
    args = parser.parse_args(
        ["--config", str(path), "--trainer.max-steps", "5", "--tied", "model.cell=gru", "--trainer.lr=0.3"]
    )
    cfg = config_from_args(Experiment, args)
    assert cfg.model == ModelSection(hidden_size=64, cell="gru")
    assert cfg.trainer.max_steps == 5 and cfg.trainer.lr == 0.3 and cfg.tied is True
    with pytest.raises(ConfigError, match="unknown key 'model.depth'"):
        config_from_args(Experiment, parser.parse_args(["model.depth=3"]))
    assert config_from_args(Experiment, parser.parse_args([])) == Experiment()
    assert config_from_args(Experiment, parser.parse_args(["--trainer.no-progress"])).trainer.progress is False


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

"""A task registered once (rnnlab.tasks.regression, the docs/extending.md example) is found everywhere:
`rnnlab --help`, `rnnlab train`, `rnnlab train TASK --help`, `rnnlab eval`, `data list` and the config test."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnlab.cli import build_parser, main
from rnnlab.tasks.configs import load_task_config
from rnnlab.tasks.registry import discover_tasks, get_task
from tests.test_shipped_configs import CONFIGS

EXAMPLE = "regression"


def test_registered_task_is_discovered_with_its_parts():
    task = discover_tasks()[EXAMPLE]
    assert [verb.name for verb in task.verbs] == ["predict"] and task.build is not None
    assert get_task(EXAMPLE) is task


def test_task_appears_in_top_level_and_train_help(capsys):
    assert EXAMPLE in build_parser().format_help()
    assert main(["train", "--help"]) == 0
    assert f"{EXAMPLE} " in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["train", EXAMPLE, "--help"])
    assert "--model.hidden_size" in capsys.readouterr().out


def test_task_dataset_in_data_list(capsys):
    assert main(["data", "list", "--kind", EXAMPLE]) == 0
    assert "freesolv" in capsys.readouterr().out


def test_task_configs_are_in_the_shipped_config_test():
    configs = sorted((CONFIGS / get_task(EXAMPLE).folder).glob("*.yaml"))
    assert configs, "the example task ships a config"
    for path in configs:
        task, config = load_task_config(None, path, [])
        assert task.name == EXAMPLE and isinstance(config, task.config_class)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "no-such-task"], "unknown task 'no-such-task'"),
        (["train", "regresion"], "did you mean 'regression'"),
        (["train", "lm", "--config", str(CONFIGS / "regression" / "freesolv.yaml")], "config for task 'regression', not 'lm'"),
    ],
)  # fmt: skip
def test_task_mistakes_are_one_line_errors(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_yaml_without_task_or_with_unknown_task(tmp_path, capsys):
    missing = tmp_path / "a.yaml"
    missing.write_text("batch_size: 3\n", encoding="utf-8")
    assert main(["train", str(missing)]) == 2
    assert "no `task:` key" in capsys.readouterr().err
    unknown = tmp_path / "b.yaml"
    unknown.write_text("task: sorting\n", encoding="utf-8")
    assert main(["train", str(unknown)]) == 2
    assert "unknown task 'sorting'" in capsys.readouterr().err


def test_eval_dispatches_on_config_json(tmp_path, capsys):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"task": "nope"}', encoding="utf-8")
    assert main(["eval", str(model)]) == 2
    assert "unknown task 'nope'" in capsys.readouterr().err


def test_no_list_of_tasks_outside_the_registry():
    source = Path(__file__).resolve().parent.parent / "src" / "rnnlab"
    for path in [source / "cli.py", *sorted((source / "commands").glob("*.py"))]:
        text = path.read_text(encoding="utf-8")
        assert "rnnlab.tasks.regression" not in text and '"regression"' not in text, path


def test_every_task_has_a_row_and_a_page_in_the_docs_index():
    docs = Path(__file__).resolve().parent.parent / "docs"
    index = (docs / "tasks.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(" `"): line for line in index.splitlines() if line.startswith("| `")}
    shipped = {name: task for name, task in discover_tasks().items() if task.origin.startswith("rnnlab.")}
    for name, task in shipped.items():
        assert name in rows, f"docs/tasks.md has no row for task {name!r}"
        page, _, anchor = rows[name].split("](")[-1].split(")")[0].partition("#")
        assert (docs / page).is_file(), f"docs/tasks.md links a missing page for {name!r}: {page}"
        if anchor:  # a section of the page: its heading must exist (GitHub's anchor: lower case, - for spaces)
            headings = [line.lstrip("#").strip().lower().replace(" ", "-").replace(":", "")
                        for line in (docs / page).read_text(encoding="utf-8").splitlines() if line.startswith("#")]
            assert anchor in headings, f"docs/tasks.md links {page}#{anchor}, which has no such heading"
        assert all(f"`{verb.name}`" in rows[name] for verb in task.verbs), f"docs/tasks.md: verbs of {name!r}"
        if task.docs is not None:  # the descriptor's own docs link is a page that exists
            assert (docs.parent / task.docs.partition("#")[0]).is_file(), f"{name}: docs={task.docs!r}"

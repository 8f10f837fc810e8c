"""Where a task's training run is put together: the one place in rnnlab that constructs a `Trainer`.

A trainable task's `build(config)` returns a `TrainSetup` (its TrainTask, its model, an optional banner and
`finish`); `train_task` prints the banner, builds the Trainer around the setup (`build_trainer`), fits it
and hands the summary to `setup.finish`:

    from rnnlab.tasks import regression
    summary = train_task(regression.build, config)               # or train_task(get_task("regression"), ...)
    summary = train_task(regression.build, config, resume=True)  # continue from <output_dir>/last

`rnnlab train` calls it for every task whose descriptor has `build` (a one-pass task's `train` runs as it
is). Code that needs the Trainer itself (`rnnlab demo` stops it on Ctrl-C; `rnnlab inspect` trains in
memory) calls `build_trainer`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rnnlab.train.callbacks import Callback
from rnnlab.train.config import TrainerConfig
from rnnlab.train.task import TrainSetup
from rnnlab.train.trainer import Trainer

__all__ = ["FROM_CONFIG", "build_trainer", "train_task"]


class _FromConfig:
    def __repr__(self) -> str:
        return "FROM_CONFIG"


FROM_CONFIG: Any = _FromConfig()  # train_task's default output_dir: the task's run directory for the config


def build_trainer(
    setup: TrainSetup,
    trainer_config: TrainerConfig | None,
    output_dir: str | Path | None,
    *,
    callbacks: Sequence[Callback] = (),
    handle_signals: bool | str = True,
    clock: Callable[[], float] | None = None,
) -> Trainer:
    """The Trainer of `setup` (its task and model) with `trainer_config`, writing under `output_dir` (None:
    in memory, nothing written); see `rnnlab.train.trainer.Trainer` for the keyword arguments."""
    if not isinstance(setup, TrainSetup):
        raise TypeError(f"build_trainer: expected a rnnlab.train.TrainSetup, got {type(setup).__name__}")
    return Trainer(setup.task, setup.model, trainer_config, output_dir, callbacks=callbacks,
                   clock=clock, handle_signals=handle_signals)  # fmt: skip


def train_task(
    build: Any,
    config: Any,
    resume: bool | str | Path = False,
    *,
    output_dir: str | Path | None = FROM_CONFIG,
    callbacks: Sequence[Callback] = (),
    handle_signals: bool | str = True,
    clock: Callable[[], float] | None = None,
) -> dict[str, Any]:
    """Build, train and finish one run of a task; returns the Trainer's summary as `setup.finish` left it.

    build: the task's `build(config) -> TrainSetup`, or anything with a `build` attribute: its
        `TaskDescriptor` (`rnnlab.tasks.registry.get_task(name)`) or its module.
    config: the task's config; `config.trainer` (a TrainerConfig) configures the loop.
    resume: False = a fresh run; True = continue from <output_dir>/last if it exists; a path = from there.
    output_dir: where the run is written; default: the descriptor's run directory for `config` (its
        `run_dir`, else `config.output_dir`), or `config.output_dir` for a bare build function. None trains
        in memory (nothing written).
    callbacks, handle_signals, clock: passed to the Trainer.
    """
    builder = _builder_of(build)
    setup = builder(config)
    if not isinstance(setup, TrainSetup):
        raise TypeError(f"{_name_of(builder)}(config) returned a {type(setup).__name__}, not a rnnlab.train.TrainSetup")
    if output_dir is FROM_CONFIG:
        output_dir = _default_output_dir(build, config)
    if setup.banner:
        print(setup.banner, file=sys.stderr)
    trainer = build_trainer(setup, config.trainer, output_dir, callbacks=callbacks,
                            handle_signals=handle_signals, clock=clock)  # fmt: skip
    summary = trainer.fit(resume=resume)
    return setup.finish(summary) if setup.finish is not None else summary


def _builder_of(build: Any) -> Callable[[Any], TrainSetup]:
    if hasattr(build, "build"):  # a TaskDescriptor or a task module
        builder = build.build
        if builder is None:
            name = getattr(build, "name", build)
            raise TypeError(f"task {name!r} has no build (a one-pass task): call its train(config, resume)")
        return builder
    if not callable(build):
        raise TypeError(f"train_task: expected a task's build function or descriptor, got {type(build).__name__}")
    return build


def _name_of(function: Any) -> str:
    return f"{getattr(function, '__module__', '?')}.{getattr(function, '__qualname__', repr(function))}"


def _default_output_dir(build: Any, config: Any) -> Path | str | None:
    run_directory = getattr(build, "run_directory", None)  # a TaskDescriptor: honours its run_dir
    if callable(run_directory):
        return run_directory(config)
    if not hasattr(config, "output_dir"):
        raise TypeError(f"{type(config).__name__} has no output_dir: pass train_task(..., output_dir=...) "
                        "(None trains in memory)")  # fmt: skip
    return config.output_dir

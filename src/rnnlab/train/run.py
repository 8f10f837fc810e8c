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

Everything that can fail before training is checked before anything is written: `prepare_setup` builds
the data and the model (a `MemoryError` becomes one line naming the config's sizes), serialises the
model's weights once in memory (they can be saved, and how big they are) and checks that the disk holds
the first checkpoints (`checkpoint_bytes`). `rnnlab train` calls it before the run directory exists and
hands the setup to `train_task(..., setup=...)`; `train_task` calls it itself otherwise.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rnnlab.errors import ConfigError, RunDirectoryError
from rnnlab.train.callbacks import Callback
from rnnlab.train.config import TrainerConfig
from rnnlab.train.task import TrainSetup
from rnnlab.train.trainer import Trainer

__all__ = ["FROM_CONFIG", "build_setup", "build_trainer", "checkpoint_bytes", "check_disk_space", "prepare_setup",
           "train_task"]


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
    setup: TrainSetup | None = None,
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
    setup: `prepare_setup(build, config, output_dir, resume)` done already (`rnnlab train` does it before
        the run directory exists); None: it is done here.
    Running out of memory, in building or in training, is a one-line ConfigError naming the config's sizes.
    """
    checked = setup is not None
    if setup is None:
        setup = build_setup(build, config)
    if output_dir is FROM_CONFIG:
        output_dir = _default_output_dir(build, config)
    if not checked and output_dir is not None:  # what prepare_setup does after building
        check_disk_space(setup.model, config.trainer, output_dir, resume=resume is not False, config=config)
    from rnnlab.train.distributed import is_main

    if setup.banner and is_main():  # under torchrun: rank 0 speaks for the run
        print(setup.banner, file=sys.stderr)
    trainer = build_trainer(setup, config.trainer, output_dir, callbacks=callbacks,
                            handle_signals=handle_signals, clock=clock)  # fmt: skip
    try:
        summary = trainer.fit(resume=resume)
    except (MemoryError, RuntimeError) as error:  # the optimizer's state and the activations come on top
        if not _out_of_memory(error):
            raise
        raise _too_big(config, "train the model", error, batch=True) from None
    if not is_main():  # the others trained the same weights; rank 0 finishes (e.g. tests best/) and reports
        return summary
    return setup.finish(summary) if setup.finish is not None else summary


def prepare_setup(build: Any, config: Any, output_dir: str | Path | None, *, resume: bool = False) -> TrainSetup:
    """Everything of a run that can fail before training, done before anything is written: the task's
    `build(config)` (`build_setup`), then, for a run with files, the weights serialised once in memory and
    the disk space for its checkpoints (`check_disk_space`). Raises ConfigError / RunDirectoryError."""
    init_from = getattr(getattr(config, "trainer", None), "init_from", None)
    if init_from is not None and not resume:
        check_init_from(init_from)
    setup = build_setup(build, config)
    if output_dir is not None:
        check_disk_space(setup.model, config.trainer, output_dir, resume=resume, config=config)
    return setup


def check_init_from(path: str) -> None:
    """trainer.init_from names a verified model directory (a run's best/ or last/ or an exported model):
    refused before the task is built. The Trainer checks the rest (the task, its vocabulary files)."""
    from rnnlab.errors import CheckpointError
    from rnnlab.paths import resolve_model_dir
    from rnnlab.train.checkpoint import verify_checkpoint

    try:
        verify_checkpoint(resolve_model_dir(path))
    except CheckpointError as error:
        raise CheckpointError(f"trainer.init_from: {error}") from None


def build_setup(build: Any, config: Any) -> TrainSetup:
    """The task's `build(config)` (see `train_task` for `build`); running out of memory while building
    (`MemoryError`, torch's "can't allocate memory") is a ConfigError naming the sizes that asked for it."""
    builder = _builder_of(build)
    try:
        setup = builder(config)
    except (MemoryError, RuntimeError) as error:
        if not _out_of_memory(error):
            raise
        raise _too_big(config, "build the model", error) from None
    if not isinstance(setup, TrainSetup):
        raise TypeError(f"{_name_of(builder)}(config) returned a {type(setup).__name__}, not a rnnlab.train.TrainSetup")
    return setup


def checkpoint_bytes(weights: int, trainer: TrainerConfig, *, resume: bool = False) -> int:
    """Disk bytes a run's first checkpoints take, for weights of `weights` bytes (safetensors).

    best/ holds the weights; last/ the weights and the optimizer's state, which is 2 tensors per weight
    for adam and adamw, 1 for sgd with momentum, none for plain sgd: so 4 x the weights for adam (3 x for
    sgd with momentum), plus 1 MiB for the small files (run.yaml, metrics.jsonl, vocabularies, the plot).
    A later save writes the new last/ before it removes the old one (it needs one last/ more for a moment),
    but a disk that fills then keeps the previous last/ whole: that run can be resumed. On resume best/ and
    last/ exist already: only that extra last/ is counted.
    """
    state = {"adam": 2, "adamw": 2}.get(trainer.optimizer, 1 if trainer.momentum else 0)
    last = (1 + state) * weights if trainer.save_last else 0
    best = weights if trainer.save_best else 0
    return (last if resume else best + last) + 2**20


def check_disk_space(model: Any, trainer: TrainerConfig, output_dir: str | Path, *, resume: bool = False,
                     config: Any = None) -> int:  # fmt: skip
    """Serialise `model`'s weights once in memory (so a model that cannot be saved fails now, not at its
    first checkpoint) and refuse, with one line, a disk without room for the run's checkpoints
    (`checkpoint_bytes`); returns the weights' size in bytes. `config` names the sizes in a memory error.
    """
    from safetensors.torch import save

    from rnnlab.train.checkpoint import _dedupe_tensors
    from rnnlab.train.rundir import _human_size

    try:
        tensors, _ = _dedupe_tensors(model.state_dict())  # tied weights once, as the checkpoint writer does
        weights = len(save(tensors))
    except (MemoryError, RuntimeError) as error:
        if not _out_of_memory(error):
            raise
        raise _too_big(config, "copy the model's weights", error) from None
    need = checkpoint_bytes(weights, trainer, resume=resume)
    existing = Path(output_dir)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    if free < need:
        raise RunDirectoryError(
            f"not enough disk space for the checkpoints of this run in {output_dir}: they need about "
            f"{_human_size(need)} (weights {_human_size(weights)}, {trainer.optimizer} state included), "
            f"{_human_size(free)} is free there; free some space, or choose another output_dir"
        )
    return weights


def _out_of_memory(error: BaseException) -> bool:
    """A MemoryError, or torch's RuntimeError for a failed allocation (CPU or CUDA)."""
    if isinstance(error, MemoryError):  # torch.cuda.OutOfMemoryError too: a RuntimeError, not this
        return True
    text = str(error)
    return any(sign in text for sign in ("can't allocate memory", "not enough memory", "out of memory"))


_SIZE_KEY = re.compile(r"(size|dim|hidden|layers|vocab)$")


def _too_big(config: Any, what: str, error: BaseException, *, batch: bool = False) -> ConfigError:
    """One line for running out of memory: how much was asked for, and the config's sizes, largest first
    (the batch sizes too when `batch`: they count in training, not in building)."""
    from rnnlab.config import config_to_dict
    from rnnlab.train.rundir import _flatten, _human_size

    asked = re.search(r"tried to allocate (\d+) bytes", str(error))
    detail = f" (an allocation of {_human_size(int(asked.group(1)))} failed)" if asked else ""
    sizes = []
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        flat = _flatten(config_to_dict(config))
        sizes = sorted(((key, value) for key, value in flat.items()
                        if _SIZE_KEY.search(key) and (batch or "batch" not in key) and not key.startswith("trainer.")
                        and isinstance(value, int) and not isinstance(value, bool)),
                       key=lambda item: -item[1])[:8]  # fmt: skip
    named = ", ".join(f"{key}={value}" for key, value in sizes)
    hint = f"; sizes: {named}: choose smaller ones" if named else ""
    return ConfigError(f"not enough memory to {what}{detail}{hint}")


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

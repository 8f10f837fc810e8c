"""The small training runs of `rnnlab inspect` go through the shared Trainer, in memory.

No checkpoint, log file, plot or progress bar; on the CPU (the models are tiny); a `History` callback
records every step's loss and gradient norm and every evaluation, which is what the pictures need.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from rnnlab.train import Callback, History, TrainerConfig, TrainSetup, TrainTask, build_trainer

__all__ = ["train_in_memory"]


def train_in_memory(
    task: TrainTask, model: nn.Module, callbacks: Sequence[Callback] = (), **settings: Any
) -> tuple[dict[str, Any], History]:
    """Train `model` on `task` with TrainerConfig(**settings); returns the Trainer's summary and the history.

    Defaults that differ from TrainerConfig's: device cpu, no progress bar, no plot, one epoch.
    """
    options: dict[str, Any] = {"device": "cpu", "progress": False, "plot": False, "max_epochs": 1}
    options.update(settings)
    history = History()
    setup = TrainSetup(task, model)
    trainer = build_trainer(setup, TrainerConfig(**options), None, callbacks=[history, *callbacks])
    return trainer.fit(), history

"""rnnlab.train: the generic Trainer, its task protocol, configs and checkpoints (see docs/training.md)."""

from rnnlab.train.batches import DrawnBatches, EpochBatches, move_to, shuffled_indices
from rnnlab.train.callbacks import Callback, EvalInfo, History, StepInfo
from rnnlab.train.checkpoint import (
    Checkpoint,
    load_checkpoint,
    load_model_dir,
    load_model_weights,
    save_checkpoint,
    verify_checkpoint,
)
from rnnlab.train.config import TrainerConfig
from rnnlab.train.device import resolve_device
from rnnlab.train.metrics import derived_metrics, plot_loss_curve, read_metrics
from rnnlab.train.optim import LRSchedule, build_optimizer
from rnnlab.train.rng import set_seed
from rnnlab.train.run import build_trainer, train_task
from rnnlab.train.task import StepOutput, TrainSetup, TrainTask, as_step_output
from rnnlab.train.trainer import Trainer

__all__ = [
    "Callback",
    "Checkpoint",
    "DrawnBatches",
    "EpochBatches",
    "EvalInfo",
    "History",
    "LRSchedule",
    "StepInfo",
    "StepOutput",
    "TrainSetup",
    "TrainTask",
    "Trainer",
    "TrainerConfig",
    "as_step_output",
    "build_optimizer",
    "build_trainer",
    "derived_metrics",
    "load_checkpoint",
    "load_model_dir",
    "load_model_weights",
    "move_to",
    "plot_loss_curve",
    "read_metrics",
    "resolve_device",
    "save_checkpoint",
    "set_seed",
    "shuffled_indices",
    "train_task",
    "verify_checkpoint",
]

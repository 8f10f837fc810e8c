"""Sequence-to-vector regression: read a string one character (or word) at a time, predict a number.

    "CCO" --chars--> ids --Embedding, BiGRU, mean pooling, Linear--> standardised value --* std + mean--> y

The shipped example (`configs/regression/freesolv.yaml`) predicts the hydration free energy of a molecule
(kcal/mol) from its SMILES string: the FreeSolv dataset (`rnnlab.data.tabular`). User data: CSV files with a
text column and a target column.

This is also the worked example of docs/extending.md. The task is two modules, one concern each:

* this one: the config, what the Trainer trains (`RegressionTask`, `build`) and the task's descriptor;
* `rnnlab.tasks.regressor`: a trained model loaded (`Regressor`, `load_regressor`), `rnnlab eval` and the
  `predict` verb;
* shared outside tasks/: CSV reading and the FreeSolv dataset `rnnlab.data.tabular`, RMSE / MAE / R²
  `rnnlab.numeric_metrics`, the network `rnnlab.nn.seq2vec`.

The CLI (`rnnlab train`, `eval`, `predict`), `rnnlab data list` and the shipped-config test find the task
from its descriptor.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F

from rnnlab.config import config_to_dict, data_source, require_sizes
from rnnlab.data.registry import get_dataset, load_dataset
from rnnlab.data.tabular import Example, read_csv_file
from rnnlab.data.vocab import PAD_ID, Vocabulary
from rnnlab.errors import ConfigError, DataError
from rnnlab.labelling.batches import bucketed_batches
from rnnlab.nn.seq2vec import SequenceToVector, SequenceToVectorConfig
from rnnlab.numeric_metrics import regression_metrics
from rnnlab.tasks.registry import TaskDescriptor, register_task
from rnnlab.tasks.regressor import PREDICT, Regressor, evaluate, format_evaluation, load_regressor, tokenize
from rnnlab.train import EpochBatches, StepOutput, TrainerConfig, TrainSetup, TrainTask

__all__ = ["DESCRIPTOR", "RegressionConfig", "RegressionDataConfig", "RegressionTask", "build", "load_splits"]

TASK = "regression"


# ------------------------------------------------------------------------------------------------ config
@dataclass
class RegressionDataConfig:
    dataset: str | None = "freesolv"  # a built-in dataset, or "files" (null) to read the CSV files below
    train: str | None = None  # CSV files with a header row
    valid: str | None = None
    test: str | None = None
    text_column: str = "text"
    target_column: str = "target"
    level: Literal["char", "word"] = "char"  # SMILES and other codes: char; sentences: word

    def __post_init__(self) -> None:
        # the files and their column names are read only with dataset: files
        self.dataset = data_source(self, {"train": None, "valid": None, "test": None, "text_column": "text",
                                          "target_column": "target"})  # fmt: skip


@dataclass
class RegressionConfig:
    data: RegressionDataConfig = field(default_factory=RegressionDataConfig)
    model: SequenceToVectorConfig = field(default_factory=SequenceToVectorConfig)
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(metric="rmse", mode="min"))
    batch_size: int = 32
    output_dir: str = "runs/regression"

    def __post_init__(self) -> None:
        require_sizes(self, "batch_size")
        if self.data.dataset is None and not (self.data.train and self.data.valid):
            raise ConfigError("data: expected a built-in dataset, or data.train and data.valid CSV files")


def load_splits(data: RegressionDataConfig) -> dict[str, list[Example]]:
    """The (text, value) examples of each split: the built-in dataset's, or the configured CSV files'."""
    if data.dataset is not None:
        return load_dataset(get_dataset(data.dataset, kind="regression").name)
    return {split: read_csv_file(path, data.text_column, data.target_column, split) if path is not None else []
            for split, path in (("train", data.train), ("valid", data.valid), ("test", data.test))}  # fmt: skip


# ---------------------------------------------------------------------------------------------- training
class RegressionTask(TrainTask):
    def __init__(self, config: RegressionConfig, regressor: Regressor, splits: dict[str, list[Example]]):
        self.config, self.regressor, self.splits = config, regressor, splits

    def train_batches(self, epoch: int):
        # Length-bucketed, as the labelling tasks' (rnnlab.labelling.batches): the RNN runs on the padded
        # batch (rnnlab.nn.padded), so padding costs time; order still fixed by (seed, epoch).
        train = self.splits["train"]
        lengths = [len(text) for text, _ in train]
        index_batches = bucketed_batches(lengths, self.config.batch_size, self.config.trainer.seed, epoch)
        batches = [[train[i] for i in batch] for batch in index_batches]
        return EpochBatches(batches, make=self.encode)  # each batch made of tensors when the Trainer reads it

    def encode(self, examples: list[Example]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A batch as tensors (the Trainer moves them to its device): ids (N, L), mask (N, L), standardised
        targets (N,)."""
        regressor = self.regressor
        targets = (torch.tensor([value for _, value in examples]) - regressor.mean) / regressor.std
        ids, mask = regressor.encode([text for text, _ in examples])
        return ids, mask, targets

    def train_step(self, model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> StepOutput:
        ids, mask, targets = batch
        loss = F.mse_loss(model(ids, mask).squeeze(1), targets)
        return StepOutput(loss, num_tokens=len(targets))

    def evaluate(self) -> dict[str, float]:
        valid = self.splits["valid"]
        metrics = regression_metrics(self.regressor.predict([t for t, _ in valid]), [v for _, v in valid])
        self.regressor.model.train()
        return {key: metrics[key] for key in ("rmse", "mae", "r2")}

    def checkpoint_config(self) -> dict:
        return {"task": TASK, "config": config_to_dict(self.config), "mean": self.regressor.mean,
                "std": self.regressor.std}  # fmt: skip

    def checkpoint_files(self) -> dict[str, str]:
        return {"vocab.json": json.dumps({"tokens": self.regressor.vocab.tokens}, ensure_ascii=False)}


def build(config: RegressionConfig) -> TrainSetup:
    """The task and model of `config` for the shared Trainer (`rnnlab train` keeps the best model, by valid
    RMSE, under <output_dir>/best)."""
    splits = load_splits(config.data)
    if not splits["train"] or not splits["valid"]:
        raise DataError("regression: expected non-empty train and valid examples")
    values = torch.tensor([value for _, value in splits["train"]], dtype=torch.float64)
    mean, std = float(values.mean()), float(values.std()) if len(values) > 1 else 1.0
    vocab = Vocabulary.build([tokenize(text, config.data.level) for text, _ in splits["train"]])
    torch.manual_seed(config.trainer.seed)
    model = SequenceToVector(config.model, len(vocab), output_size=1, pad_id=PAD_ID)
    regressor = Regressor(model, vocab, config, mean, std or 1.0)
    return TrainSetup(task=RegressionTask(config, regressor, splits), model=model)


DESCRIPTOR = register_task(TaskDescriptor(
    name=TASK,
    summary="sequence-to-vector regression (e.g. a molecule's hydration energy from its SMILES)",
    docs="docs/tasks.md#regression-sequence-to-vector",
    config_class=RegressionConfig,
    build=build,
    load=load_regressor,
    evaluate=evaluate,
    format_eval=format_evaluation,
    verbs=(PREDICT,),
))  # fmt: skip

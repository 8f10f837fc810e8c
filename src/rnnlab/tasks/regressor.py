"""A trained regression model, loaded (`Regressor`, `load_regressor`), and what it is used for: `rnnlab eval`
and the `predict` verb.

    regressor = load_regressor("runs/regression-freesolv")     # a run directory: uses best/
    regressor.predict(["CCO", "c1ccccc1"])                     # [-4.9..., -0.8...] (kcal/mol)

A model directory (the Trainer's `best/` or `last/`) holds config.json (`"task": "regression"`, the whole
RegressionConfig and the training targets' mean and standard deviation), model.safetensors and vocab.json.
The training side is `rnnlab.tasks.regression`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from rnnlab.config import config_from_dict
from rnnlab.data.tabular import read_csv_examples
from rnnlab.data.vocab import PAD_ID, Vocabulary
from rnnlab.errors import CheckpointError
from rnnlab.nn.seq2vec import SequenceToVector
from rnnlab.numeric_metrics import regression_metrics
from rnnlab.tasks.registry import EvalRequest
from rnnlab.train import load_model_dir, load_model_weights
from rnnlab.verbs import Verb

if TYPE_CHECKING:
    from rnnlab.tasks.regression import RegressionConfig

__all__ = ["PREDICT", "PredictOptions", "Regressor", "evaluate", "format_evaluation", "load_regressor", "predict",
           "tokenize"]  # fmt: skip

TASK = "regression"


def tokenize(text: str, level: str) -> list[str]:
    return list(text) if level == "char" else text.split()


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


def load_regressor(path: str | Path) -> Regressor:
    from rnnlab.tasks.regression import RegressionConfig  # here, not at the top: that module imports this one

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


# ---------------------------------------------------------------------------------------------- eval
def evaluate(path: str | Path, request: EvalRequest) -> dict:
    """RMSE, MAE, R², Pearson r on a split of the model's data or a CSV file, next to predicting the mean."""
    from rnnlab.tasks.regression import load_splits  # here, not at the top: that module imports this one

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


# ------------------------------------------------------------------------------------------- predict
@dataclass
class PredictOptions:
    batch_size: int = field(default=256, metadata={"help": "inputs per batch"})


def predict(regressor: Regressor, inputs: list[str], options: PredictOptions) -> Iterator[dict]:
    """The `predict` verb: one `{"input", "prediction"}` per input string."""
    for text, value in zip(inputs, regressor.predict(inputs, options.batch_size)):
        yield {"input": text, "prediction": round(value, 4)}


PREDICT = Verb(name="predict", help="predict a number for each input string", options=PredictOptions, run=predict,
               what="inputs")
